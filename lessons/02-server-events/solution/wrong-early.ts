// A known wrong answer: it does everything, but resolves at once, before the
// server has emitted 'close'. The check must fail it at "checking that your
// promise waited for 'close'".
import net from 'node:net';

export function gracefulShutdown(server: net.Server): (graceMs: number) => Promise<void> {
  const open = new Set<net.Socket>();
  server.on('connection', (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return async function shutdown(graceMs: number): Promise<void> {
    const deadline = setTimeout(() => {
      for (const socket of open) socket.destroy();
    }, graceMs);
    server.close(() => clearTimeout(deadline));
    for (const socket of open) socket.end();
  };
}

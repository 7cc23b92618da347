// A known wrong answer: it never clears its graceMs timer, which then keeps
// the process alive for graceMs after the server has closed. The check must
// fail it at "checking that your graceMs timer is cleared once the server has
// closed".
import net from 'node:net';

export function gracefulShutdown(server: net.Server): (graceMs: number) => Promise<void> {
  const open = new Set<net.Socket>();
  server.on('connection', (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return function shutdown(graceMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      setTimeout(() => {
        for (const socket of open) socket.destroy();
      }, graceMs);
      server.close((err) => (err ? reject(err) : resolve()));
      for (const socket of open) socket.end();
    });
  };
}

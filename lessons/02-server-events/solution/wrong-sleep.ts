// A known wrong answer: close(), end() every socket, sleep 50 ms, destroy()
// the rest, and resolve without waiting for 'close'. A fixed sleep instead of
// graceMs and the 'close' event. The check must fail it at "checking that
// nothing is destroyed before graceMs" (or, if a stalled thread makes the
// sleep outlast graceMs, at its other fault: not waiting for 'close').
import net from 'node:net';

export function gracefulShutdown(server: net.Server): (graceMs: number) => Promise<void> {
  const open = new Set<net.Socket>();
  server.on('connection', (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return async function shutdown(graceMs: number): Promise<void> {
    server.close();
    for (const socket of open) socket.end();
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const socket of open) socket.destroy();
  };
}

// A known wrong answer: no end(); it waits graceMs and destroys everything.
// An idle client learns of the shutdown only at the deadline, and a busy one
// loses the tail of its reply. The check must fail it at "waiting for the idle
// client to get your server's FIN".
import net from 'node:net';

export function gracefulShutdown(server: net.Server): (graceMs: number) => Promise<void> {
  const open = new Set<net.Socket>();
  server.on('connection', (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return function shutdown(graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      const deadline = setTimeout(() => {
        for (const socket of open) socket.destroy();
      }, graceMs);
      server.close(() => {
        clearTimeout(deadline);
        resolve();
      });
    });
  };
}

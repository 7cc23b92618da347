// A known wrong answer: gracefulShutdown is async, so it returns a promise of
// the function instead of the function. The check must fail it at "calling
// gracefulShutdown(server)".
import net from 'node:net';

export async function gracefulShutdown(server: net.Server): Promise<(graceMs: number) => Promise<void>> {
  const open = new Set<net.Socket>();
  server.on('connection', (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return (graceMs: number) =>
    new Promise<void>((resolve) => {
      const deadline = setTimeout(() => {
        for (const socket of open) socket.destroy();
      }, graceMs);
      server.close(() => {
        clearTimeout(deadline);
        resolve();
      });
      for (const socket of open) socket.end();
    });
}

// A known wrong answer: it ends only the idle connections (nothing left to
// send) and leaves the busy ones to the deadline, which cuts their replies
// off. The check must fail it at "waiting for the busy client to read its
// whole reply, then the FIN": end() never cuts a reply, so end them all.
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
      for (const socket of open) if (socket.writableLength === 0) socket.end();
    });
  };
}

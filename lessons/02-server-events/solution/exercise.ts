// Exercise 02 · A graceful shutdown — the reference solution.
// Compare notes once your own answer passes `npm run check 02`.
import net from 'node:net';

export function gracefulShutdown(server: net.Server): (graceMs: number) => Promise<void> {
  // net.Server does not list its connections, so keep our own set: one per server.
  const open = new Set<net.Socket>();
  server.on('connection', (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });

  return function shutdown(graceMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      // Whoever has not closed by then is cut off: a shutdown must end.
      const deadline = setTimeout(() => {
        for (const socket of open) socket.destroy();
      }, graceMs);
      // close() stops accepting now; its callback runs on 'close', after the last connection.
      server.close((err) => {
        clearTimeout(deadline);
        if (err) reject(err);
        else resolve();
      });
      // end(), not destroy(): bytes already written still reach the client, then the FIN.
      for (const socket of open) socket.end();
    });
  };
}

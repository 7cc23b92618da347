// A known wrong answer: one set of sockets at the top of the file, shared by
// every server. Shutting one server down ends the connections of all. The
// check must fail it at "checking that shutting down one server left another
// server's connection alone".
import net from 'node:net';

const open = new Set<net.Socket>();

export function gracefulShutdown(server: net.Server): (graceMs: number) => Promise<void> {
  server.on('connection', (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return function shutdown(graceMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(() => {
        for (const socket of open) socket.destroy();
      }, graceMs);
      server.close((err) => {
        clearTimeout(deadline);
        if (err) reject(err);
        else resolve();
      });
      for (const socket of open) socket.end();
    });
  };
}

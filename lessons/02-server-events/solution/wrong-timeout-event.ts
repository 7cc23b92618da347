// A known wrong answer: each connection is destroyed from its 'timeout' event,
// the event of socket.setTimeout(), an idle timeout. Here the event comes on
// time, as it can on a machine too busy to read the client's bytes first; the
// check must still see where the destroy() came from and fail it at "waiting
// for your shutdown() to destroy the connection that never closes, after graceMs".
import net from 'node:net';

export function gracefulShutdown(server: net.Server): (graceMs: number) => Promise<void> {
  const open = new Set<net.Socket>();
  server.on('connection', (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    socket.on('timeout', () => socket.destroy());
  });
  return (graceMs) =>
    new Promise((resolve) => {
      const deadline = setTimeout(() => {
        for (const socket of open) socket.emit('timeout');
      }, graceMs);
      server.close(() => {
        clearTimeout(deadline);
        resolve();
      });
      for (const socket of open) socket.end();
    });
}

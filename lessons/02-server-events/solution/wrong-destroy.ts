// A known wrong answer: destroy() instead of end() throws away the bytes
// still waiting to be sent, so a client in the middle of a reply loses its tail.
import net from 'node:net';

export function gracefulShutdown(server: net.Server): () => Promise<void> {
  const open = new Set<net.Socket>();
  server.on('connection', (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return function shutdown(): Promise<void> {
    return new Promise((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      for (const socket of open) socket.destroy();
    });
  };
}

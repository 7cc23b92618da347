// A known wrong answer: it ends every connection but resolves at once,
// before the server has emitted 'close'.
import net from 'node:net';

export function gracefulShutdown(server: net.Server): () => Promise<void> {
  const open = new Set<net.Socket>();
  server.on('connection', (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return async function shutdown(): Promise<void> {
    server.close();
    for (const socket of open) socket.end();
  };
}

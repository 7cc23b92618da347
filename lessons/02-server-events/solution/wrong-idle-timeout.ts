// A known wrong answer: socket.setTimeout(graceMs) as the deadline. That is an
// idle timeout: every byte the client sends starts it again, so a client that
// keeps talking is never cut off. The check must fail it at "waiting for your
// shutdown() to destroy the connection that never closes, after graceMs".
import net from 'node:net';

export function gracefulShutdown(server: net.Server): (graceMs: number) => Promise<void> {
  const open = new Set<net.Socket>();
  server.on('connection', (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return (graceMs) =>
    new Promise((resolve) => {
      server.close(() => resolve());
      for (const socket of open) {
        socket.setTimeout(graceMs, () => socket.destroy());
        socket.end();
      }
    });
}

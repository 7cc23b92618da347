// A known wrong answer: a deadline of its own (2 seconds) instead of the
// graceMs it was given. The check must fail it at "waiting for your
// shutdown() to destroy the connection that never closes, after graceMs".
import net from 'node:net';

export function gracefulShutdown(server: net.Server): (graceMs: number) => Promise<void> {
  const open = new Set<net.Socket>();
  server.on('connection', (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return function shutdown(): Promise<void> {
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(() => {
        for (const socket of open) socket.destroy();
      }, 2000);
      server.close((err) => {
        clearTimeout(deadline);
        if (err) reject(err);
        else resolve();
      });
      for (const socket of open) socket.end();
    });
  };
}

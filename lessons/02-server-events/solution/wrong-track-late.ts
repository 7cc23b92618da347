// A known wrong answer: it starts tracking connections only when shutdown() is
// called, so it knows none of those already open and ends nothing. The check
// must fail it at "waiting for the idle client to get your server's FIN".
import net from 'node:net';

export function gracefulShutdown(server: net.Server): (graceMs: number) => Promise<void> {
  return function shutdown(graceMs: number): Promise<void> {
    const open = new Set<net.Socket>();
    server.on('connection', (socket) => open.add(socket));
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

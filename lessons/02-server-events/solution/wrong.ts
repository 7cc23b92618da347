// A known wrong answer: it closes the server but leaves the open connections
// alone, so 'close' never comes. The check must fail it at "waiting for the
// idle client to get your server's FIN".
import net from 'node:net';

export function gracefulShutdown(server: net.Server): (graceMs: number) => Promise<void> {
  return function shutdown(graceMs: number): Promise<void> {
    return new Promise((resolve) => server.close(() => resolve()));
  };
}

// A known wrong answer that hangs: it closes the server but leaves open
// connections alone, so 'close' never comes. The check must stop at
// "waiting for the idle client to get your server's FIN" within its timeout
// and say what was left open.
import net from 'node:net';

export function gracefulShutdown(server: net.Server): () => Promise<void> {
  return function shutdown(): Promise<void> {
    return new Promise((resolve) => server.close(() => resolve()));
  };
}

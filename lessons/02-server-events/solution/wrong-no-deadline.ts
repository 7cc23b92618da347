// A known wrong answer: it ends every connection and waits for 'close', but
// never destroys anything: a client that never closes its side holds the
// shutdown for ever. The check must fail it at "waiting for your shutdown() to
// destroy the connection that never closes, after graceMs".
import net from 'node:net';

export function gracefulShutdown(server: net.Server): (graceMs: number) => Promise<void> {
  const open = new Set<net.Socket>();
  server.on('connection', (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return function shutdown(graceMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      for (const socket of open) socket.end();
    });
  };
}

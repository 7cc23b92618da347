// A known wrong answer: destroy() instead of end() throws away the bytes
// still waiting in Node, so a client in the middle of a reply loses its tail
// (and gets a normal FIN). The check must fail it at "checking that nothing
// is destroyed before graceMs".
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
      for (const socket of open) socket.destroy();
    });
  };
}

// A known wrong answer: it forgets to stop accepting. It ends and destroys the
// connections and resolves once the last one has closed, but the server still
// takes new ones. The check must fail it at "waiting for your shutdown() to
// call server.close()".
import net from 'node:net';

export function gracefulShutdown(server: net.Server): (graceMs: number) => Promise<void> {
  const open = new Set<net.Socket>();
  server.on('connection', (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return function shutdown(graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      const deadline = setTimeout(() => {
        for (const socket of open) socket.destroy();
      }, graceMs);
      for (const socket of open) {
        socket.end();
        socket.once('close', () => {
          if (open.size > 0) return;
          clearTimeout(deadline);
          resolve();
        });
      }
    });
  };
}

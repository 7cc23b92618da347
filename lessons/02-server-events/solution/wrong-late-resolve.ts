// A known wrong answer: it waits a fixed time after 'close' before resolving
// ("to be sure"). The check must fail it at "checking that your promise
// waited for 'close'": resolve on the event, not after a sleep.
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
      server.close(() => {
        clearTimeout(deadline);
        setTimeout(resolve, 50);
      });
      for (const socket of open) socket.end();
    });
  };
}

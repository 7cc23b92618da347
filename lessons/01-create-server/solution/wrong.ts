// A known wrong answer (the check must fail it at "checking where your server
// listens"): without a host, listen() binds every network interface.
import net from 'node:net';

export const GREETING = 'Hello from the TCP workbook!\n';

export function startGreeter(): net.Server {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.end(GREETING);
  });
  server.listen(0);
  return server;
}

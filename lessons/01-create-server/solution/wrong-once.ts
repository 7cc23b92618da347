// A known wrong answer: it greets one client and then closes the server, so
// the next client finds nothing listening. The check must fail it at
// "greeting a second client", explaining the refused connection.
import net from 'node:net';

export const GREETING = 'Hello from the TCP workbook!\n';

export function startGreeter(): net.Server {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.end(GREETING);
    server.close();
  });
  server.listen(0, '127.0.0.1');
  return server;
}

// A known wrong answer: the book's fixed port. A fixed port can already be
// taken by another program; port 0 lets the OS pick a free one. The check
// must fail it at "checking where your server listens".
import net from 'node:net';

export const GREETING = 'Hello from the TCP workbook!\n';

export function startGreeter(): net.Server {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.end(GREETING);
  });
  server.listen(8124, '127.0.0.1');
  return server;
}

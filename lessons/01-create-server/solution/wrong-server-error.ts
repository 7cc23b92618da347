// A known wrong answer: an 'error' listener on the server, none on the
// sockets. The server's 'error' is for listen() failures; each socket emits
// its own. The check must fail it at "a client resets its connection: your
// server must not crash".
import net from 'node:net';

export const GREETING = 'Hello from the TCP workbook!\n';

export function startGreeter(): net.Server {
  const server = net.createServer((socket) => {
    socket.end(GREETING);
  });
  server.on('error', (err) => console.error('server error:', err.message));
  server.listen(0, '127.0.0.1');
  return server;
}

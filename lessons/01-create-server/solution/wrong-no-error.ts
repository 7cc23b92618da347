// A known wrong answer: no 'error' listener on the sockets. It works until a
// client resets its connection; then the unhandled 'error' would stop the
// server. The check must fail it at "a client resets its connection: your
// server must not crash".
import net from 'node:net';

export const GREETING = 'Hello from the TCP workbook!\n';

export function startGreeter(): net.Server {
  const server = net.createServer((socket) => {
    socket.end(GREETING);
  });
  server.listen(0, '127.0.0.1');
  return server;
}

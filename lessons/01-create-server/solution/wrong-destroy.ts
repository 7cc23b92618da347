// A known wrong answer: it greets, then closes with destroy() instead of end().
// On the wire this client cannot tell (the kernel took all 29 bytes before the
// destroy), so the check looks at the server's socket: it never finished.
// The check must fail it at "checking that your server used end(), not destroy()".
import net from 'node:net';

export const GREETING = 'Hello from the TCP workbook!\n';

export function startGreeter(): net.Server {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.write(GREETING);
    socket.destroy();
  });
  server.listen(0, '127.0.0.1');
  return server;
}

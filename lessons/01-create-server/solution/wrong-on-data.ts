// A known wrong answer, shaped like the book's server: it greets only when the
// client sends something. The check's client sends nothing, so the check must
// fail it at "waiting for the greeting" (its step timeout).
import net from 'node:net';

export const GREETING = 'Hello from the TCP workbook!\n';

export function startGreeter(): net.Server {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.on('data', () => socket.end(GREETING));
  });
  server.listen(0, '127.0.0.1');
  return server;
}

// A known wrong answer that hangs: it greets but never ends the connection, so
// the client waits for a FIN that never comes. The check must stop at
// "waiting for your server to end() after the greeting" within its timeout
// and say what was left open.
import net from 'node:net';

export const GREETING = 'Hello from the TCP workbook!\n';

export function startGreeter(): net.Server {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.write(GREETING);
  });
  server.listen(0, '127.0.0.1');
  return server;
}

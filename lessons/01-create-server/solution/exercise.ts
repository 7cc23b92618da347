// Exercise 01 · A greeting server — the reference solution.
// Compare notes once your own answer passes `npm run check 01`.
import net from 'node:net';

export const GREETING = 'Hello from the TCP workbook!\n';

export function startGreeter(): net.Server {
  const server = net.createServer((socket) => {
    socket.on('error', () => {}); // a client that resets must not crash us
    // end(data) writes the data, then sends the FIN once it is flushed.
    socket.end(GREETING);
  });
  // Port 0: any free port. '127.0.0.1': this machine only.
  server.listen(0, '127.0.0.1');
  return server;
}

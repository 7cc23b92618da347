// A known wrong answer: 'localhost' instead of '127.0.0.1'. Here it resolves
// to 127.0.0.1 and seems to work; where it resolves to ::1 first, clients of
// 127.0.0.1 find nothing. The check must fail it at "checking where your
// server listens", on every machine.
import net from 'node:net';

export const GREETING = 'Hello from the TCP workbook!\n';

export function startGreeter(): net.Server {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.end(GREETING);
  });
  server.listen(0, 'localhost');
  return server;
}

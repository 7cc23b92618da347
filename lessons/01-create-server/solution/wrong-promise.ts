// A known wrong answer: it waits for 'listening' and so returns a promise,
// where the text says to return the server itself. The check must fail it at
// "calling startGreeter()".
import { once } from 'node:events';
import net from 'node:net';

export const GREETING = 'Hello from the TCP workbook!\n';

export async function startGreeter(): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.end(GREETING);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

// A known wrong answer: one server made at the top of the file and shared by
// every call. The second call's listen() throws ERR_SERVER_ALREADY_LISTEN.
// The check must fail it at "calling startGreeter() again: a second server of
// its own".
import net from 'node:net';

export const GREETING = 'Hello from the TCP workbook!\n';

const server = net.createServer((socket) => {
  socket.on('error', () => {});
  socket.end(GREETING);
});

export function startGreeter(): net.Server {
  server.listen(0, '127.0.0.1');
  return server;
}

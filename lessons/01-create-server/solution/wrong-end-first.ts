// A known wrong answer: it ends the connection before writing. The write after
// end() fails (ERR_STREAM_WRITE_AFTER_END, caught by the 'error' listener), so
// the client gets a FIN and no greeting. The check must fail it at "waiting
// for the greeting".
import net from 'node:net';

export const GREETING = 'Hello from the TCP workbook!\n';

export function startGreeter(): net.Server {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.end();
    socket.write(GREETING);
  });
  server.listen(0, '127.0.0.1');
  return server;
}

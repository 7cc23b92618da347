// A known wrong answer: pipe() through a Transform handles back-pressure and
// the FIN, but nothing listens for 'error' on the socket. When a client resets,
// pipe()'s own listener re-emits the error and the process crashes. The check
// must fail it at "a client resets its connection: your server must not crash".
import net from 'node:net';
import { Transform } from 'node:stream';

function shout(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i += 1) {
    if (out[i] >= 0x61 && out[i] <= 0x7a) out[i] -= 0x20;
  }
  return out;
}

export function startShoutEcho(): net.Server {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const shouter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        done(null, shout(chunk));
      },
    });
    socket.pipe(shouter).pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  return server;
}

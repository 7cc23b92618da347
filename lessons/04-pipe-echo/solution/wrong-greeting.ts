// A known wrong answer: like the book's echo server, it greets every client
// first ('Echo server\r\n'), then shouts the echo back. The 13 greeting bytes
// come before the echo, so a file sent through it no longer comes back as it
// was. The check must fail it at "shouting a short message back", saying
// "extra bytes before the echo".
import net from 'node:net';
import { Transform, pipeline } from 'node:stream';

function shout(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i += 1) {
    if (out[i] >= 0x61 && out[i] <= 0x7a) out[i] -= 0x20;
  }
  return out;
}

export function startShoutEcho(): net.Server {
  const server = net.createServer((socket) => {
    socket.write('Echo server\r\n');
    const shouter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        done(null, shout(chunk));
      },
    });
    pipeline(socket, shouter, socket, () => {});
  });
  server.listen(0, '127.0.0.1');
  return server;
}

// A known wrong answer: a right echo, but it calls listen(0) without a host,
// so it listens on every network interface (other machines could connect,
// and a firewall may ask). The check must fail it at "checking where your
// server listens".
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
    const shouter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        done(null, shout(chunk));
      },
    });
    pipeline(socket, shouter, socket, () => {});
  });
  server.listen(0);
  return server;
}

// A known wrong answer: one Transform for the whole server, made once outside
// the connection listener. The first client works; when it ends, the
// Transform ends with it, and every later connection is piped through a
// finished stream. The check must fail it at "shouting 256 KiB of random
// bytes back, byte for byte" (its second client).
import net from 'node:net';
import { Transform, pipeline } from 'node:stream';

function shout(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i += 1) {
    if (out[i] >= 0x61 && out[i] <= 0x7a) out[i] -= 0x20;
  }
  return out;
}

const shouter = new Transform({
  transform(chunk: Buffer, _encoding, done) {
    done(null, shout(chunk));
  },
});

export function startShoutEcho(): net.Server {
  const server = net.createServer((socket) => {
    pipeline(socket, shouter, socket, () => {});
  });
  server.listen(0, '127.0.0.1');
  return server;
}

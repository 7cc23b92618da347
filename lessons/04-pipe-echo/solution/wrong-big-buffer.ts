// A known wrong answer: the reference's pipeline, with a Transform given a
// 16 MiB highWaterMark "to be fast". pipeline() still respects back-pressure,
// but only once the Transform's two buffers are full: 32 MiB a client that
// never reads can make the server hold. The check must fail it at "a client
// that sends without reading: your server must stop reading".
import net from 'node:net';
import { Transform, pipeline } from 'node:stream';

function shout(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i += 1) if (out[i] >= 0x61 && out[i] <= 0x7a) out[i] -= 0x20;
  return out;
}

export function startShoutEcho(): net.Server {
  const server = net.createServer((socket) => {
    const shouter = new Transform({
      highWaterMark: 16 * 1024 * 1024,
      transform(chunk: Buffer, _encoding, done) {
        done(null, shout(chunk));
      },
    });
    pipeline(socket, shouter, socket, () => {});
  });
  server.listen(0, '127.0.0.1');
  return server;
}

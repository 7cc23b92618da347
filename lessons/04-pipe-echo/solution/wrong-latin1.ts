// A known wrong answer: it decodes each chunk as latin1, "so that every byte
// is one character", and upper-cases the text. The round trip through latin1
// keeps every byte, but toUpperCase() changes more than a–z: the letters
// among 0xe0–0xfe (à–þ) turn into 0xc0–0xde, 0xb5 (µ) and 0xff (ÿ) leave
// latin1 altogether. The check must fail it at "shouting 256 KiB of random
// bytes back, byte for byte".
import net from 'node:net';
import { Transform, pipeline } from 'node:stream';

export function startShoutEcho(): net.Server {
  const server = net.createServer((socket) => {
    const shouter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        done(null, Buffer.from(chunk.toString('latin1').toUpperCase(), 'latin1'));
      },
    });
    pipeline(socket, shouter, socket, () => {});
  });
  server.listen(0, '127.0.0.1');
  return server;
}

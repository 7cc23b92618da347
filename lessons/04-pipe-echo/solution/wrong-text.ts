// A known wrong answer: it shouts text, not bytes. toString() decodes each
// chunk as UTF-8, so a byte that is not part of valid UTF-8 becomes U+FFFD
// (three bytes, ef bf bd), a character cut between two chunks is broken, and
// toUpperCase() changes letters beyond a–z too ('ß' becomes 'SS'). ASCII text
// survives, random bytes do not. The check must fail it at "shouting 256 KiB
// of random bytes back, byte for byte".
import net from 'node:net';
import { Transform, pipeline } from 'node:stream';

export function startShoutEcho(): net.Server {
  const server = net.createServer((socket) => {
    const shouter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        done(null, chunk.toString().toUpperCase());
      },
    });
    pipeline(socket, shouter, socket, () => {});
  });
  server.listen(0, '127.0.0.1');
  return server;
}

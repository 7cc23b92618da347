// Exercise 04 · A shouting echo — the reference solution.
// Compare notes once your own answer passes `npm run check 04`.
import net from 'node:net';
import { Transform, pipeline } from 'node:stream';

const LOWER_A = 0x61; // 'a'
const LOWER_Z = 0x7a; // 'z'
const CASE_BIT = 0x20; // 'a' - 'A': the only bit in which the two cases differ

/** A copy of `bytes` with a–z turned into A–Z; every other byte unchanged. */
function shout(bytes: Buffer): Buffer {
  // Bytes, not text: a chunk may end in the middle of a UTF-8 character, or be no text at all.
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i += 1) {
    if (out[i] >= LOWER_A && out[i] <= LOWER_Z) out[i] -= CASE_BIT;
  }
  return out;
}

export function startShoutEcho(): net.Server {
  const server = net.createServer((socket) => {
    // One shouted chunk out for each chunk in: the Transform changes bytes, never their order.
    // It calls back at once, so when Node ends our side after the client's FIN (allowHalfOpen
    // is false by default) it holds nothing. One that called back later would need allowHalfOpen.
    const shouter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        done(null, shout(chunk));
      },
    });
    // pipeline() does the rest: it stops reading while the socket cannot take more (back-pressure),
    // ends the socket after the client's FIN and the last shouted byte, and hands an error
    // (a client that resets) to this callback instead of crashing the process.
    pipeline(socket, shouter, socket, () => {
      // Nothing to do: on an error pipeline() has already destroyed the socket.
    });
  });
  server.listen(0, '127.0.0.1');
  return server;
}

// A known wrong answer: it pauses when write() returns false, but resumes on
// the next turn of the event loop instead of on 'drain', "to keep things
// moving". It keeps reading while the client reads nothing, so what it cannot
// send piles up. The check must fail it at "a client that sends without
// reading: your server must stop reading".
import net from 'node:net';

function shout(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i += 1) {
    if (out[i] >= 0x61 && out[i] <= 0x7a) out[i] -= 0x20;
  }
  return out;
}

export function startShoutEcho(): net.Server {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      if (!socket.write(shout(chunk))) {
        socket.pause();
        setImmediate(() => socket.resume());
      }
    });
  });
  server.listen(0, '127.0.0.1');
  return server;
}

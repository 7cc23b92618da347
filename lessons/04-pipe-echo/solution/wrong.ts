// A known wrong answer: the naive echo of lesson 04, shouting. It writes every
// chunk back and ignores what write() returns, so it never stops reading.
// Against a client that reads, it works. Against a client that sends a lot and
// reads nothing, the bytes it cannot send pile up in its memory. The check
// must fail it at "a client that sends without reading: your server must stop
// reading", with the bytes it held.
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
    socket.on('data', (chunk: Buffer) => socket.write(shout(chunk)));
  });
  server.listen(0, '127.0.0.1');
  return server;
}

// A known wrong answer: it stops reading when write() returns false, but never
// starts again (no 'drain' listener). Against a client that reads, it works;
// once a client has filled its buffers, it stays paused for ever and the rest
// of the echo never comes. The check must fail it at "the client reads at
// last: every byte back, then a FIN".
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
      if (!socket.write(shout(chunk))) socket.pause();
    });
  });
  server.listen(0, '127.0.0.1');
  return server;
}

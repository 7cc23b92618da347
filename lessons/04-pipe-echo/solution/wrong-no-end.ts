// A known wrong answer that hangs: back-pressure done by hand, right, on a
// server with allowHalfOpen: true (so that shouted bytes can still go out after
// the client's FIN, lesson 03), but nothing ever calls end(). Every byte comes
// back, then no FIN: the client waits for ever. The check must stop at
// "waiting for your server to end after the client's FIN".
import net from 'node:net';

function shout(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i += 1) {
    if (out[i] >= 0x61 && out[i] <= 0x7a) out[i] -= 0x20;
  }
  return out;
}

export function startShoutEcho(): net.Server {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      if (!socket.write(shout(chunk))) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    });
    // Missing: socket.on('end', () => socket.end());
  });
  server.listen(0, '127.0.0.1');
  return server;
}

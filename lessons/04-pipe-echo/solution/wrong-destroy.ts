// A known wrong answer: back-pressure by hand, right, but when the client
// ends it calls destroy() to "close the connection" instead of end().
// destroy() drops whatever Node still holds for the client: nothing when the
// client reads fast, the end of the echo when it reads slowly, and the client
// gets a FIN either way, so it cannot tell. The check must fail it at
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
    socket.on('end', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1');
  return server;
}

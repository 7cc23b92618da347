// A known wrong answer: a queue of its own. It reads on while write() says the
// socket is full, keeps what it cannot send in an array, and pauses only at
// 8 MiB. writableLength stays small, yet the server holds megabytes a client
// that never reads has made it keep. The check must fail it at "a client that
// sends without reading: your server must stop reading".
import net from 'node:net';

const LIMIT = 8 * 1024 * 1024;

function shout(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i += 1) if (out[i] >= 0x61 && out[i] <= 0x7a) out[i] -= 0x20;
  return out;
}

export function startShoutEcho(): net.Server {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    const queue: Buffer[] = [];
    let queued = 0;
    let ended = false;
    const flush = () => {
      while (queue.length > 0) {
        const next = queue.shift()!;
        queued -= next.length;
        if (!socket.write(next)) break;
      }
      if (queued < LIMIT) socket.resume();
      if (ended && queue.length === 0) socket.end();
    };
    socket.on('data', (chunk: Buffer) => {
      queue.push(shout(chunk));
      queued += chunk.length;
      if (queued >= LIMIT) socket.pause();
      if (!socket.writableNeedDrain) flush();
    });
    socket.on('drain', flush);
    socket.on('end', () => {
      ended = true;
      if (!socket.writableNeedDrain) flush();
    });
  });
  server.listen(0, '127.0.0.1');
  return server;
}

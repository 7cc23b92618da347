// A known wrong answer: the chunks are collected in an array at module level,
// so every call adds to the same one, and a later call resolves with the
// replies of earlier calls too. The check must fail it at "calling
// fetchReply() twice at once: each promise must get its own reply".
import net from 'node:net';

export const HOST = '127.0.0.1';

const chunks: Buffer[] = [];

export function fetchReply(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNREFUSED') return reject(err);
      reject(Object.assign(new Error(`nothing is listening on ${HOST}:${port}`), { code: err.code }));
    });
    socket.end(request);
  });
}

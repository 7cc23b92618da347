// A known wrong answer: it adds its 'error' listener only once connected, in
// the connect callback. A refused connection never connects, so its 'error'
// has no listener and is thrown (in a real program: a crash). The check must
// fail it at "waiting for your promise to reject when nothing is listening".
import net from 'node:net';

export const HOST = '127.0.0.1';

export function fetchReply(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST, () => {
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ECONNREFUSED') return reject(err);
        reject(Object.assign(new Error(`nothing is listening on ${HOST}:${port}`), { code: err.code }));
      });
      socket.end(request);
    });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

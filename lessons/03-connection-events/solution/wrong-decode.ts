// A known wrong answer: `reply += chunk` turns each Buffer into a string on its
// own. A character split between two chunks becomes two '\ufffd' (�) halves.
// The check must fail it at "checking the reply your promise resolved with".
import net from 'node:net';

export const HOST = '127.0.0.1';

export function fetchReply(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    let reply = '';
    socket.on('data', (chunk: Buffer) => {
      reply += chunk;
    });
    socket.on('end', () => resolve(reply));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNREFUSED') return reject(err);
      reject(Object.assign(new Error(`nothing is listening on ${HOST}:${port}`), { code: err.code }));
    });
    socket.end(request);
  });
}

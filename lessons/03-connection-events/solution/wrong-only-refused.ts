// A known wrong answer: it handles the one error the task names and lets the
// others pass, then resolves on 'close'. A reset mid-reply is an 'error'
// (ECONNRESET) followed by 'close' with hadError true: this resolves with half
// a reply. The check must fail it at "waiting for your promise to reject when
// the server resets the connection mid-reply".
import net from 'node:net';

export const HOST = '127.0.0.1';

export function fetchReply(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') {
        reject(Object.assign(new Error(`nothing is listening on ${HOST}:${port}`), { code: err.code }));
      }
    });
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.end(request);
  });
}

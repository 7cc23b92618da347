// A known wrong answer: it resolves on 'finish', taking its own FIN for the
// server's. 'finish' only says that Node handed the request and the FIN to the
// kernel; the reply has not even started. The check must fail it at "sending
// the reply in pieces, then the FIN: your promise must settle on 'end'".
import net from 'node:net';

export const HOST = '127.0.0.1';

export function fetchReply(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('finish', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNREFUSED') return reject(err);
      reject(Object.assign(new Error(`nothing is listening on ${HOST}:${port}`), { code: err.code }));
    });
    socket.end(request);
  });
}

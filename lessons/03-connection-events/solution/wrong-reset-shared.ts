// A known wrong answer: the chunks live at module level but are emptied at
// the start of each call. One call at a time looks right; two at once share
// the array, and each resolves with both replies mixed. The check must fail
// it at "calling fetchReply() twice at once: each promise must get its own reply".
import net from 'node:net';

export const HOST = '127.0.0.1';

let chunks: Buffer[] = [];

export function fetchReply(port: number, request: string): Promise<string> {
  chunks = [];
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

// A known wrong answer that hangs: it writes the request but never calls
// end(), so the server, which answers only after the client's FIN, waits for
// ever, and so does the client. The check must stop at "waiting for your
// client to send the request and end() its side" within its timeout and say
// what was left open.
import net from 'node:net';

export const HOST = '127.0.0.1';

export function fetchReply(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNREFUSED') return reject(err);
      reject(Object.assign(new Error(`nothing is listening on ${HOST}:${port}`), { code: err.code }));
    });
    socket.write(request);
  });
}

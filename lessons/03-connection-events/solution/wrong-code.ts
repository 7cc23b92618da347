// A known wrong answer: it rejects with a new Error that has the right
// message but not the code, so a caller can no longer tell a refused
// connection from any other failure. The check must fail it at "checking the
// error of the refused connection".
import net from 'node:net';

export const HOST = '127.0.0.1';

export function fetchReply(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', () => reject(new Error(`nothing is listening on ${HOST}:${port}`)));
    socket.end(request);
  });
}

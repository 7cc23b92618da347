// A known wrong answer: no 'error' listener. A refused connection emits
// 'error' and then 'close', never 'end', so the promise could never settle;
// and with nobody listening, the 'error' event is thrown instead (in a real
// program it crashes the process). The check must fail it at "waiting for
// your promise to reject when nothing is listening".
import net from 'node:net';

export const HOST = '127.0.0.1';

export function fetchReply(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, HOST);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.end(request);
  });
}

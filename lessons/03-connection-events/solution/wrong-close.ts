// A known wrong answer: it resolves on 'close' without looking at hadError,
// and silences 'error' so that nothing crashes. A refused connection emits
// 'error' and then 'close' (hadError true): the promise resolves with an empty
// reply instead of rejecting. The check must fail it at "waiting for your
// promise to reject when nothing is listening".
import net from 'node:net';

export const HOST = '127.0.0.1';

export function fetchReply(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, HOST);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {}); // so that an error cannot crash the program
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.end(request);
  });
}

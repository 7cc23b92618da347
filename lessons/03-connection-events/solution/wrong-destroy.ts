// A known wrong answer: once connected it writes the request and calls
// destroy() instead of end(), to "close its side". destroy() closes the whole
// socket: the server still gets the request and a FIN (the kernel had the
// bytes already), but the reply has nowhere to go, and the promise, waiting
// for 'end', never settles. The check must fail it at "sending the reply in
// pieces, then the FIN: your promise must settle on 'end'".
import net from 'node:net';

export const HOST = '127.0.0.1';

export function fetchReply(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST, () => {
      socket.write(request);
      socket.destroy();
    });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNREFUSED') return reject(err);
      reject(Object.assign(new Error(`nothing is listening on ${HOST}:${port}`), { code: err.code }));
    });
  });
}

// A known wrong answer: it waits for a pause instead of for the FIN. Every
// 'data' restarts a 100 ms timer, and when the timer goes off the reply is
// taken as complete; 'end' is ignored. On loopback the FIN comes right after
// the last piece, so the text is right, but a server that pauses for 100 ms
// mid-reply would be cut off. The check must fail it at "sending the reply in
// pieces, then the FIN: your promise must settle on 'end'".
import net from 'node:net';

export const HOST = '127.0.0.1';

export function fetchReply(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    const chunks: Buffer[] = [];
    let quiet: NodeJS.Timeout | undefined;
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      clearTimeout(quiet);
      quiet = setTimeout(() => resolve(Buffer.concat(chunks).toString('utf8')), 100);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(quiet);
      if (err.code !== 'ECONNREFUSED') return reject(err);
      reject(Object.assign(new Error(`nothing is listening on ${HOST}:${port}`), { code: err.code }));
    });
    socket.end(request);
  });
}

// A known wrong answer: it knows the server answers with the request in
// capitals, so it stops once it has "as much as it sent". But it counts the
// reply in bytes and the request in characters: 'ç', '☕' and '👋' take 2, 3
// and 4 bytes, so it resolves before the whole reply is there (and ignores
// 'end', which is what says the reply is complete). The check must fail it at
// "sending the reply in pieces, then the FIN: your promise must settle on 'end'".
import net from 'node:net';

export const HOST = '127.0.0.1';

export function fetchReply(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    const chunks: Buffer[] = [];
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= request.length) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNREFUSED') return reject(err);
      reject(Object.assign(new Error(`nothing is listening on ${HOST}:${port}`), { code: err.code }));
    });
    socket.end(request);
  });
}

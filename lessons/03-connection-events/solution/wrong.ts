// A known wrong answer: it resolves on the first 'data' event, as if one chunk
// were the whole reply. The check's server sends its reply in several pieces,
// so this resolves with the first piece only, before the server's FIN. The
// check must fail it at "sending the reply in pieces, then the FIN: your
// promise must settle on 'end'".
import net from 'node:net';

export const HOST = '127.0.0.1';

export function fetchReply(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    socket.setEncoding('utf8');
    socket.once('data', (text: string) => resolve(text));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNREFUSED') return reject(err);
      reject(Object.assign(new Error(`nothing is listening on ${HOST}:${port}`), { code: err.code }));
    });
    socket.end(request);
  });
}

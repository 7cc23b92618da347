// A known wrong answer: it uses the socket's idle timer as "the reply is
// done": socket.setTimeout(100) and resolve on 'timeout'. 'timeout' only says
// that nothing was read or written for 100 ms (lesson 03); the FIN is what
// says the reply is complete. The check must fail it at "sending the reply in
// pieces, then the FIN: your promise must settle on 'end'".
import net from 'node:net';

export const HOST = '127.0.0.1';

export function fetchReply(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    socket.setEncoding('utf8');
    let reply = '';
    socket.on('data', (text: string) => (reply += text));
    socket.setTimeout(100);
    socket.on('timeout', () => {
      socket.destroy();
      resolve(reply);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNREFUSED') return reject(err);
      reject(Object.assign(new Error(`nothing is listening on ${HOST}:${port}`), { code: err.code }));
    });
    socket.end(request);
  });
}

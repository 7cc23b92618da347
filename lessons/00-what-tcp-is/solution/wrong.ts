// A known wrong answer: it settles on the first 'data' event, as if one chunk
// were the whole answer and the connection were over. The check must fail it at
// "sending the reply in two pieces: your promise must wait for the FIN".
import net from 'node:net';

export type Ending =
  | { how: 'ended'; received: string }
  | { how: 'reset'; received: string }
  | { how: 'refused' };

export function probe(target: net.TcpNetConnectOpts, request: string): Promise<Ending> {
  return new Promise((resolve) => {
    const socket = net.connect(target);
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => resolve({ how: 'ended', received: text }));
    socket.on('end', () => resolve({ how: 'ended', received: '' }));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') resolve({ how: 'refused' });
      else resolve({ how: 'reset', received: '' });
    });
    socket.end(request);
  });
}

// A known wrong answer: it treats a FIN without any data as a failure ("the
// server said nothing"). A FIN is a clean end, with or without a word. The
// check must fail it at "probing a server that ends without a word".
import net from 'node:net';

export type Ending =
  | { how: 'ended'; received: string }
  | { how: 'reset'; received: string }
  | { how: 'refused' };

export function probe(target: net.TcpNetConnectOpts, request: string): Promise<Ending> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(target);
    socket.setEncoding('utf8');
    let received = '';
    let failure: NodeJS.ErrnoException | undefined;
    socket.on('data', (text: string) => (received += text));
    socket.on('error', (err: NodeJS.ErrnoException) => (failure = err));
    socket.on('close', () => {
      if (failure?.code === 'ECONNREFUSED') resolve({ how: 'refused' });
      else if (failure?.code === 'ECONNRESET') resolve({ how: 'reset', received });
      else if (failure) reject(failure);
      else if (received === '') reject(new Error('the server closed the connection without answering'));
      else resolve({ how: 'ended', received });
    });
    socket.end(request);
  });
}

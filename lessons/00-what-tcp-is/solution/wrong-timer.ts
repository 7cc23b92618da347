// A known wrong answer: it decides the answer is complete once nothing has
// arrived for 100 ms, instead of waiting for the end of the connection. The
// check must fail it at "waiting for your promise to settle once the server's FIN has arrived".
import net from 'node:net';

export type Ending =
  | { how: 'ended'; received: string }
  | { how: 'reset'; received: string }
  | { how: 'refused' };

export function probe(target: net.TcpNetConnectOpts, request: string): Promise<Ending> {
  return new Promise((resolve) => {
    const socket = net.connect(target);
    socket.setEncoding('utf8');
    let received = '';
    let quiet: NodeJS.Timeout | undefined;
    socket.on('data', (text: string) => {
      received += text;
      clearTimeout(quiet);
      quiet = setTimeout(() => resolve({ how: 'ended', received }), 100);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(quiet);
      if (err.code === 'ECONNREFUSED') resolve({ how: 'refused' });
      else resolve({ how: 'reset', received });
    });
    socket.end(request);
  });
}

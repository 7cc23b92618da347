// A known wrong answer: it knows a refused connection by its code, but takes
// every other close for a clean end, so a reset looks like an answer that was
// complete. The check must fail it at "probing a server that resets the connection mid-reply".
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
    let refused = false;
    socket.on('data', (text: string) => (received += text));
    socket.on('error', (err: NodeJS.ErrnoException) => (refused = err.code === 'ECONNREFUSED'));
    socket.on('close', () => resolve(refused ? { how: 'refused' } : { how: 'ended', received }));
    socket.end(request);
  });
}

// A known wrong answer: it has no 'error' listener, so the first refused
// connection crashes the program instead of being reported. The check must
// fail it at "probing a port where nothing listens".
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
    socket.on('data', (text: string) => (received += text));
    socket.on('end', () => resolve({ how: 'ended', received }));
    socket.end(request);
  });
}

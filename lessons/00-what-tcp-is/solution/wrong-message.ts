// A known wrong answer: it tells the errors apart by err.message. A refused
// connect to a name with two addresses is an AggregateError whose message is
// empty, so it is taken for another failure. The check must fail it at
// "probing a port where nothing listens".
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
    let failure: Error | undefined;
    socket.on('data', (text: string) => (received += text));
    socket.on('error', (err: Error) => (failure = err));
    socket.on('close', () => {
      if (!failure) resolve({ how: 'ended', received });
      else if (failure.message.includes('ECONNREFUSED')) resolve({ how: 'refused' });
      else if (failure.message.includes('ECONNRESET')) resolve({ how: 'reset', received });
      else reject(failure);
    });
    socket.end(request);
  });
}

// A known wrong answer: it takes the host and the port out of the target and
// drops the rest (here a lookup function), so it connects somewhere else than
// asked. The check must fail it at "waiting for your client to connect with net.connect(target)".
import net from 'node:net';

export type Ending =
  | { how: 'ended'; received: string }
  | { how: 'reset'; received: string }
  | { how: 'refused' };

export function probe(target: net.TcpNetConnectOpts, request: string): Promise<Ending> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(target.port, target.host);
    socket.setEncoding('utf8');
    let received = '';
    let failure: NodeJS.ErrnoException | undefined;
    socket.on('data', (text: string) => (received += text));
    socket.on('error', (err: NodeJS.ErrnoException) => (failure = err));
    socket.on('close', (hadError: boolean) => {
      if (!hadError) resolve({ how: 'ended', received });
      else if (failure?.code === 'ECONNREFUSED') resolve({ how: 'refused' });
      else if (failure?.code === 'ECONNRESET') resolve({ how: 'reset', received });
      else reject(failure);
    });
    socket.end(request);
  });
}

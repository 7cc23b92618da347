// A known wrong answer: it writes the request but never ends its side, so the
// server never learns that the request is complete and never answers. The
// check must fail it at "waiting for your client to send the request and end() its side".
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
    socket.on('close', (hadError: boolean) => {
      if (!hadError) resolve({ how: 'ended', received });
      else if (failure?.code === 'ECONNREFUSED') resolve({ how: 'refused' });
      else if (failure?.code === 'ECONNRESET') resolve({ how: 'reset', received });
      else reject(failure);
    });
    socket.write(request);
  });
}

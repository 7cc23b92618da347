// A known wrong answer: once the request is written it calls destroy() to
// "close its side". destroy() closes both directions: the answer can no longer
// come in. The check must fail it at "sending the reply in two pieces: your
// promise must wait for the FIN".
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
    socket.on('connect', () => socket.write(request, () => socket.destroy()));
  });
}

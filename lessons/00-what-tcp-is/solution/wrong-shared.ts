// A known wrong answer: the text received lives at the top of the file, shared
// by every call. One probe at a time works; two at once mix their bytes. The
// check must fail it at "two probes at once: each keeps its own bytes".
import net from 'node:net';

export type Ending =
  | { how: 'ended'; received: string }
  | { how: 'reset'; received: string }
  | { how: 'refused' };

let received = '';

export function probe(target: net.TcpNetConnectOpts, request: string): Promise<Ending> {
  received = '';
  return new Promise((resolve, reject) => {
    const socket = net.connect(target);
    socket.setEncoding('utf8');
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

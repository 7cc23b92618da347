// A known wrong answer: every error that is not a reset counts as "refused",
// also a host name that does not resolve, where no connection was even tried.
// The check must fail it at "probing a host name that does not resolve".
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
    let code: string | undefined;
    socket.on('data', (text: string) => (received += text));
    socket.on('error', (err: NodeJS.ErrnoException) => (code = err.code));
    socket.on('close', (hadError: boolean) => {
      if (!hadError) resolve({ how: 'ended', received });
      else if (code === 'ECONNRESET') resolve({ how: 'reset', received });
      else resolve({ how: 'refused' });
    });
    socket.end(request);
  });
}

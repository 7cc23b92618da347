// A known wrong answer: it keeps the text only when the answer ends cleanly
// (it reads it in 'end'), so after a reset it reports that nothing arrived,
// although part of the answer had. The check must fail it at "probing a server
// that resets the connection mid-reply".
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
    const chunks: string[] = [];
    let failure: NodeJS.ErrnoException | undefined;
    socket.on('data', (text: string) => chunks.push(text));
    socket.on('end', () => (received = chunks.join('')));
    socket.on('error', (err: NodeJS.ErrnoException) => (failure = err));
    socket.on('close', () => {
      if (!failure) resolve({ how: 'ended', received });
      else if (failure.code === 'ECONNREFUSED') resolve({ how: 'refused' });
      else if (failure.code === 'ECONNRESET') resolve({ how: 'reset', received });
      else reject(failure);
    });
    socket.end(request);
  });
}

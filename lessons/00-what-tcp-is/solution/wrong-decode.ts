// A known wrong answer: it turns every chunk into a string on its own
// (`received += chunk` on a Buffer does that), so a character cut between two
// chunks comes out as two replacement characters. The check must fail it at
// "waiting for your promise to settle once the server's FIN has arrived".
import net from 'node:net';

export type Ending =
  | { how: 'ended'; received: string }
  | { how: 'reset'; received: string }
  | { how: 'refused' };

export function probe(target: net.TcpNetConnectOpts, request: string): Promise<Ending> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(target);
    let received = '';
    let failure: NodeJS.ErrnoException | undefined;
    socket.on('data', (chunk: Buffer) => (received += chunk));
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

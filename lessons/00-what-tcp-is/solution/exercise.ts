// Exercise 00 · How did it end? A connection probe — the reference solution.
// Compare notes once your own answer passes `npm run check 00`.
import net from 'node:net';

export type Ending =
  | { how: 'ended'; received: string }
  | { how: 'reset'; received: string }
  | { how: 'refused' };

export function probe(target: net.TcpNetConnectOpts, request: string): Promise<Ending> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(target);
    // A character cut between two chunks stays whole: the socket decodes for us.
    socket.setEncoding('utf8');
    let received = '';
    socket.on('data', (text: string) => (received += text));

    // Without an 'error' listener the error would crash the program. We only
    // remember it: 'close' follows every 'error', and decides.
    let failure: NodeJS.ErrnoException | undefined;
    socket.on('error', (err: NodeJS.ErrnoException) => (failure = err));

    // 'close' comes once, last, whatever happened: the one place to settle.
    socket.on('close', (hadError: boolean) => {
      if (!hadError) return resolve({ how: 'ended', received });
      // err.code, not err.message: an AggregateError (one failure per address) has an empty message.
      if (failure?.code === 'ECONNREFUSED') return resolve({ how: 'refused' });
      if (failure?.code === 'ECONNRESET') return resolve({ how: 'reset', received });
      reject(failure ?? new Error('the connection closed with an error'));
    });

    // end(data): write the request, then our FIN. Node waits for the connection first.
    socket.end(request);
  });
}

// A known wrong answer: it sends the request, sleeps a fixed 300 ms "to let the
// reply arrive", then returns what came. The sleep has nothing to do with the
// reply: a slower server is cut off, a faster one waits for nothing. The check
// must fail it at "sending the reply in pieces, then the FIN: your promise must
// settle on 'end'".
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const HOST = '127.0.0.1';

export async function fetchReply(port: number, request: string): Promise<string> {
  const socket = net.connect(port, HOST);
  const chunks: Buffer[] = [];
  let failure: NodeJS.ErrnoException | undefined;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', (err: NodeJS.ErrnoException) => (failure = err));
  socket.end(request);
  await sleep(300);
  if (failure?.code === 'ECONNREFUSED') {
    throw Object.assign(new Error(`nothing is listening on ${HOST}:${port}`), { code: failure.code });
  }
  if (failure) throw failure;
  return Buffer.concat(chunks).toString('utf8');
}

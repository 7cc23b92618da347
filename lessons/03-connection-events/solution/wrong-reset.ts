// A known wrong answer: it handles errors only while connecting. events.once()
// listens for 'error' until 'connect' comes, then removes its listener, so a
// reset later in the conversation is an 'error' event nobody listens for.
// The check must fail it at "waiting for your promise to reject when the
// server resets the connection mid-reply".
import { once } from 'node:events';
import net from 'node:net';

export const HOST = '127.0.0.1';

export async function fetchReply(port: number, request: string): Promise<string> {
  const socket = net.connect(port, HOST);
  try {
    await once(socket, 'connect');
  } catch (err) {
    throw Object.assign(new Error(`nothing is listening on ${HOST}:${port}`), { code: (err as NodeJS.ErrnoException).code });
  }
  socket.end(request);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise((resolve) => socket.once('end', resolve));
  return Buffer.concat(chunks).toString('utf8');
}

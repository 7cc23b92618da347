// A known wrong answer: it handles errors only until the handshake is done.
// events.once() listens for 'error' until 'secureConnect' comes, then removes
// its listener, so a record changed later is an 'error' event nobody listens
// for. The check must fail it at "waiting for your promise to reject when a
// byte of the reply is changed on the way".
import { once } from 'node:events';
import tls from 'node:tls';

export const HOST = '127.0.0.1';

export interface SecureRequest {
  port: number;
  servername: string;
  ca: string;
  request: string;
}

export async function fetchSecurely({ port, servername, ca, request }: SecureRequest): Promise<string> {
  const socket = tls.connect({ host: HOST, port, ca, servername });
  await once(socket, 'secureConnect');
  socket.write(request);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise((resolve) => socket.once('end', resolve));
  return Buffer.concat(chunks).toString('utf8');
}

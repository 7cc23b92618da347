// A known wrong answer: it rejects on 'error' but leaves the socket alone, as
// a plain TCP client may. After the handshake a TLS error does not close the
// socket: the connection stays open for ever. The check must fail it at
// "waiting for your promise to reject when a byte of the reply is changed on
// the way".
import tls from 'node:tls';

export const HOST = '127.0.0.1';

export interface SecureRequest {
  port: number;
  servername: string;
  ca: string;
  request: string;
}

export function fetchSecurely({ port, servername, ca, request }: SecureRequest): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: HOST, port, ca, servername });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
    socket.write(request);
  });
}

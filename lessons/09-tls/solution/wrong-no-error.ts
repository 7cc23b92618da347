// A known wrong answer: no 'error' listener. A refused certificate is an
// 'error' event: with nobody listening it is thrown (in a real program it
// crashes the process), and the promise never settles. The check must fail it
// at "refusing an impostor: the right name, a certificate from another CA".
import tls from 'node:tls';

export const HOST = '127.0.0.1';

export interface SecureRequest {
  port: number;
  servername: string;
  ca: string;
  request: string;
}

export function fetchSecurely({ port, servername, ca, request }: SecureRequest): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: HOST, port, ca, servername });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.write(request);
  });
}

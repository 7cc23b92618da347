// A known wrong answer: NODE_TLS_REJECT_UNAUTHORIZED=0, set from the code.
// It turns verification off for every TLS connection of the process (Node
// prints a warning), so the impostor is accepted. The check must fail it at
// "refusing an impostor: the right name, a certificate from another CA".
import tls from 'node:tls';

export const HOST = '127.0.0.1';

export interface SecureRequest {
  port: number;
  servername: string;
  ca: string;
  request: string;
}

process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

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

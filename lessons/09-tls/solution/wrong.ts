// A known wrong answer: rejectUnauthorized: false, the usual "fix" for a
// certificate error. The connection is still encrypted, but to whoever
// answers: an impostor with a certificate from another CA gets the request and
// its reply is taken for the real one. The check must fail it at "refusing an
// impostor: the right name, a certificate from another CA".
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
    const socket = tls.connect({ host: HOST, port, ca, servername, rejectUnauthorized: false });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
    socket.write(request);
  });
}

// A known wrong answer: it turns verification off and checks socket.authorized
// itself, but only when the reply comes: by then the request has gone to
// whoever answered. The impostor reads it. The check must fail it at
// "refusing an impostor: the right name, a certificate from another CA".
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
    socket.write(request);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => {
      if (!socket.authorized) {
        socket.destroy();
        const err = new Error(`certificate not trusted: ${socket.authorizationError}`);
        reject(Object.assign(err, { code: String(socket.authorizationError) }));
        return;
      }
      chunks.push(chunk);
    });
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

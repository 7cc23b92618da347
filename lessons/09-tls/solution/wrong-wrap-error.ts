// A known wrong answer: it rejects with a new Error of its own, so the code
// (UNABLE_TO_VERIFY_LEAF_SIGNATURE, ERR_TLS_CERT_ALTNAME_INVALID) is lost and a
// caller cannot tell a bad certificate from any other failure. The check must
// fail it at "refusing an impostor: the right name, a certificate from another
// CA".
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
    socket.on('error', (err) => reject(new Error(`secure connection failed: ${err.message}`)));
    socket.write(request);
  });
}

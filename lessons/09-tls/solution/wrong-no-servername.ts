// A known wrong answer: it trusts the right CA but passes no servername, so
// Node checks the certificate against the address it connected to,
// 127.0.0.1, which the certificate does not carry (ERR_TLS_CERT_ALTNAME_INVALID).
// The check must fail it at "waiting for your client's TLS handshake with the
// real server".
import tls from 'node:tls';

export const HOST = '127.0.0.1';

export interface SecureRequest {
  port: number;
  servername: string;
  ca: string;
  request: string;
}

export function fetchSecurely({ port, ca, request }: SecureRequest): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: HOST, port, ca });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
    socket.write(request);
  });
}

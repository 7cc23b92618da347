// A known wrong answer: it silences ERR_TLS_CERT_ALTNAME_INVALID with a
// checkServerIdentity that accepts every name. The CA is still checked, but a
// certificate that CA issued for any other name is accepted too. The check
// must fail it at "refusing a certificate for another name, from the CA you
// trust".
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
    const socket = tls.connect({ host: HOST, port, ca, checkServerIdentity: () => undefined });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
    socket.write(request);
  });
}

// A known wrong answer: it names the server but does not pass the CA, so Node
// trusts only its built-in list, which does not hold the check's CA
// (UNABLE_TO_VERIFY_LEAF_SIGNATURE). The check must fail it at "waiting for
// your client's TLS handshake with the real server".
import tls from 'node:tls';

export const HOST = '127.0.0.1';

export interface SecureRequest {
  port: number;
  servername: string;
  ca: string;
  request: string;
}

export async function fetchSecurely({ port, servername, request }: SecureRequest): Promise<string> {
  const socket = tls.connect({ host: HOST, port, servername });
  socket.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let reply = '';
    socket.on('data', (text: string) => (reply += text));
    socket.on('end', () => resolve(reply));
    socket.on('error', reject);
    socket.on('secureConnect', () => socket.write(request));
  });
}

// Exercise 09 · A TLS client that trusts only its CA — the reference solution.
// Compare notes once your own answer passes `npm run check 09`.
import tls from 'node:tls';

export const HOST = '127.0.0.1';

export interface SecureRequest {
  port: number;
  /** the name the server's certificate must carry */
  servername: string;
  /** the PEM certificate of the only authority to trust */
  ca: string;
  /** one line, ending in '\n' */
  request: string;
}

export function fetchSecurely({ port, servername, ca, request }: SecureRequest): Promise<string> {
  return new Promise((resolve, reject) => {
    // `ca` replaces Node's built-in list: this CA and no other. `servername` is the name
    // the certificate must carry (and the SNI sent to the server). rejectUnauthorized stays
    // true, so a certificate that fails either check is an 'error' before anything is sent.
    const socket = tls.connect({ host: HOST, port, ca, servername });

    // A record may end halfway through a character: keep Buffers, decode once at the end.
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));

    // 'end' is the server's close_notify and FIN: the reply is whole.
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));

    // For the socket's whole life: a refused certificate before 'secureConnect', a changed
    // record after it. After the handshake Node leaves the socket open on a TLS error: close it.
    // A promise settles once, so a later 'end' or 'error' changes nothing.
    socket.on('error', (err) => {
      socket.destroy();
      reject(err);
    });

    // Written before the handshake is done, the request waits in Node until the server has
    // been verified, and is dropped with the socket if it is refused.
    socket.write(request);
  });
}

// A known wrong answer: it turns verification off and checks socket.authorized
// itself in 'secureConnect', before it writes. It refuses every bad server in
// the check, but only because that one line is there: with Node's own check
// off, one forgotten test sends the request to whoever answers. The check must
// fail it at "checking that your client trusts only the given CA, with
// verification on".
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
    socket.on('secureConnect', () => {
      if (!socket.authorized) {
        const reason = String(socket.authorizationError);
        socket.destroy();
        reject(Object.assign(new Error(`untrusted server: ${reason}`), { code: reason }));
        return;
      }
      socket.write(request);
    });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', (err) => {
      socket.destroy();
      reject(err);
    });
  });
}

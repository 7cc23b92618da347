// A known wrong answer: it resolves on the first 'data' event, as if one
// chunk were the whole reply. Over TLS one 'data' event is one record, and the
// check's server sends its reply in several. The check must fail it at
// "sending the reply in several records: your promise must wait for the end".
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
    const socket = tls.connect({ host: HOST, port, ca, servername }, () => socket.write(request));
    socket.setEncoding('utf8');
    socket.once('data', (text: string) => {
      resolve(text);
      socket.end();
    });
    socket.on('error', reject);
  });
}

// A known wrong answer: `reply += chunk` turns each record into a string on
// its own, so a character split between two records becomes two '\ufffd' (�).
// The check must fail it at "waiting for your promise to resolve with the
// whole reply".
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
    let reply = '';
    socket.on('data', (chunk: Buffer) => {
      reply += chunk;
    });
    socket.on('end', () => resolve(reply));
    socket.on('error', reject);
    socket.on('secureConnect', () => socket.write(request));
  });
}

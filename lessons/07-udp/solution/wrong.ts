// A wrong answer: it waits for the answer with a timeout, but never asks again.
import dgram from 'node:dgram';

export const HOST = '127.0.0.1';

export interface AskOptions {
  timeout: number;
  retries: number;
}

export function ask(port: number, question: string, { timeout }: AskOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(Object.assign(new Error(`no answer from ${HOST}:${port} after 1 attempts`), { code: 'ETIMEDOUT' }));
    }, timeout);
    socket.on('message', (message, rinfo) => {
      if (rinfo.address !== HOST || rinfo.port !== port) return;
      clearTimeout(timer);
      socket.close();
      resolve(message.toString());
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
    socket.send(question, port, HOST, (err) => {
      if (err) socket.emit('error', err);
    });
  });
}

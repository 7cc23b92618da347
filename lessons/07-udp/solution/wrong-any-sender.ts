// A wrong answer: it takes the first datagram that arrives, whoever sent it.
import dgram from 'node:dgram';

export const HOST = '127.0.0.1';

export interface AskOptions {
  timeout: number;
  retries: number;
}

export function ask(port: number, question: string, { timeout, retries }: AskOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    let attempts = 0;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (err: Error | null, answer = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(answer);
    };
    socket.on('message', (message) => finish(null, message.toString('utf8')));
    socket.on('error', (err) => finish(err));
    const attempt = () => {
      attempts += 1;
      socket.send(question, port, HOST, (err) => err && finish(err));
      timer = setTimeout(() => {
        if (attempts <= retries) return attempt();
        finish(Object.assign(new Error(`no answer from ${HOST}:${port} after ${attempts} attempts`), { code: 'ETIMEDOUT' }));
      }, timeout);
    };
    attempt();
  });
}

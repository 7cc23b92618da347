// A wrong answer: it sends the question 1 + retries times straight away, "to be safe", then waits once.
import dgram from 'node:dgram';

export const HOST = '127.0.0.1';

export interface AskOptions {
  timeout: number;
  retries: number;
}

export function ask(port: number, question: string, { timeout, retries }: AskOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    let settled = false;
    const finish = (err: Error | null, answer = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(answer);
    };
    socket.on('message', (message, rinfo) => {
      if (rinfo.address === HOST && rinfo.port === port) finish(null, message.toString('utf8'));
    });
    socket.on('error', (err) => finish(err));
    for (let i = 0; i <= retries; i++) socket.send(question, port, HOST, (err) => err && finish(err));
    const timer = setTimeout(() => {
      finish(Object.assign(new Error(`no answer from ${HOST}:${port} after ${retries + 1} attempts`), { code: 'ETIMEDOUT' }));
    }, timeout);
  });
}

// A wrong answer: it connect()s the socket (so the kernel filters other senders), but has no 'error'
// listener: the "port unreachable" that a connected socket hears is thrown.
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
    // Connected: only datagrams from HOST:port reach this socket.
    socket.on('message', (message) => finish(null, message.toString('utf8')));
    const attempt = () => {
      attempts += 1;
      socket.send(question, (err) => err && finish(err));
      timer = setTimeout(() => {
        if (attempts <= retries) return attempt();
        finish(Object.assign(new Error(`no answer from ${HOST}:${port} after ${attempts} attempts`), { code: 'ETIMEDOUT' }));
      }, timeout);
    };
    socket.connect(port, HOST, attempt);
  });
}

// A wrong answer: it counts the first send as one of the retries, so it sends `retries` times in all.
import dgram from 'node:dgram';

export const HOST = '127.0.0.1';

export interface AskOptions {
  timeout: number;
  retries: number;
}

export function ask(port: number, question: string, { timeout, retries }: AskOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    let left = retries;
    let timer: NodeJS.Timeout | undefined;
    const done = (err: Error | null, answer?: string) => {
      clearTimeout(timer);
      socket.removeAllListeners('message');
      socket.close();
      if (err) reject(err);
      else resolve(answer!);
    };
    socket.on('message', (message, rinfo) => {
      if (rinfo.address === HOST && rinfo.port === port) done(null, message.toString());
    });
    socket.on('error', (err) => done(err));
    const send = () => {
      left--;
      socket.send(question, port, HOST, (err) => err && done(err));
      timer = setTimeout(() => {
        if (left > 0) send();
        else done(Object.assign(new Error(`no answer from ${HOST}:${port} after ${retries} attempts`), { code: 'ETIMEDOUT' }));
      }, timeout);
    };
    send();
  });
}

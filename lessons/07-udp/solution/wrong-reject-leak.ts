// A wrong answer: it closes the socket when the answer comes, and forgets to when it gives up.
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
    socket.on('message', (message, rinfo) => {
      if (rinfo.address !== HOST || rinfo.port !== port) return;
      clearTimeout(timer);
      socket.close();
      resolve(message.toString('utf8'));
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    const attempt = () => {
      attempts += 1;
      socket.send(question, port, HOST, (err) => {
        if (err) {
          clearTimeout(timer);
          socket.close();
          reject(err);
        }
      });
      timer = setTimeout(() => {
        if (attempts <= retries) return attempt();
        reject(Object.assign(new Error(`no answer from ${HOST}:${port} after ${attempts} attempts`), { code: 'ETIMEDOUT' }));
      }, timeout);
    };
    attempt();
  });
}

// A wrong answer: "the question is sent, so the socket is done": it closes the socket in send()'s callback.
import dgram from 'node:dgram';

export const HOST = '127.0.0.1';

export interface AskOptions {
  timeout: number;
  retries: number;
}

export function ask(port: number, question: string, { timeout, retries }: AskOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    let attempts = 0;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const attempt = () => {
      attempts++;
      const socket = dgram.createSocket('udp4');
      socket.on('message', (message, rinfo) => {
        if (settled || rinfo.address !== HOST || rinfo.port !== port) return;
        settled = true;
        clearTimeout(timer);
        resolve(message.toString());
      });
      socket.on('error', () => {});
      socket.send(question, port, HOST, (err) => {
        socket.close();
        if (err && !settled) {
          settled = true;
          clearTimeout(timer);
          reject(err);
        }
      });
      timer = setTimeout(() => {
        if (attempts <= retries) return attempt();
        settled = true;
        reject(Object.assign(new Error(`no answer from ${HOST}:${port} after ${attempts} attempts`), { code: 'ETIMEDOUT' }));
      }, timeout);
    };
    attempt();
  });
}

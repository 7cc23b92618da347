// A wrong answer: it resolves and closes on the answer, but leaves the retry timer running.
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
    socket.on('message', (message, rinfo) => {
      if (rinfo.address !== HOST || rinfo.port !== port) return;
      socket.close();
      resolve(message.toString());
    });
    socket.on('error', reject);
    const attempt = () => {
      attempts++;
      socket.send(question, port, HOST, (err) => err && reject(err));
      setTimeout(() => {
        if (attempts <= retries) attempt();
        else {
          socket.close();
          reject(Object.assign(new Error(`no answer from ${HOST}:${port} after ${attempts} attempts`), { code: 'ETIMEDOUT' }));
        }
      }, timeout);
    };
    attempt();
  });
}

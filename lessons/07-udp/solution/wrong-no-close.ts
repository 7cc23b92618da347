// A wrong answer: it settles correctly, but never closes its socket.
import dgram from 'node:dgram';

export const HOST = '127.0.0.1';

export interface AskOptions {
  timeout: number;
  retries: number;
}

export function ask(port: number, question: string, { timeout, retries }: AskOptions): Promise<string> {
  const socket = dgram.createSocket('udp4');
  return new Promise((resolve, reject) => {
    let attempts = 0;
    let timer: NodeJS.Timeout;
    let done = false;
    socket.on('message', (message, rinfo) => {
      if (done || rinfo.address !== HOST || rinfo.port !== port) return;
      done = true;
      clearTimeout(timer);
      resolve(message.toString('utf8'));
    });
    socket.on('error', (err) => {
      done = true;
      clearTimeout(timer);
      reject(err);
    });
    function send() {
      attempts++;
      socket.send(question, port, HOST, (err) => {
        if (err && !done) {
          done = true;
          clearTimeout(timer);
          reject(err);
        }
      });
      timer = setTimeout(() => {
        if (done) return;
        if (attempts <= retries) return send();
        done = true;
        reject(Object.assign(new Error(`no answer from ${HOST}:${port} after ${attempts} attempts`), { code: 'ETIMEDOUT' }));
      }, timeout);
    }
    send();
  });
}

// A wrong answer: one socket for every call, opened on the first call and closed when no call is left.
import dgram from 'node:dgram';

export const HOST = '127.0.0.1';

export interface AskOptions {
  timeout: number;
  retries: number;
}

let shared: dgram.Socket | undefined;
let users = 0;

function socketFor(): dgram.Socket {
  if (!shared) {
    shared = dgram.createSocket('udp4');
    shared.on('error', () => {});
  }
  users++;
  return shared;
}

function release(): void {
  users--;
  if (users === 0 && shared) {
    shared.close();
    shared = undefined;
  }
}

export function ask(port: number, question: string, { timeout, retries }: AskOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = socketFor();
    let attempts = 0;
    let timer: NodeJS.Timeout | undefined;
    const onMessage = (message: Buffer, rinfo: dgram.RemoteInfo) => {
      if (rinfo.address !== HOST || rinfo.port !== port) return;
      done(null, message.toString());
    };
    const done = (err: Error | null, answer?: string) => {
      clearTimeout(timer);
      socket.off('message', onMessage);
      release();
      if (err) reject(err);
      else resolve(answer!);
    };
    socket.on('message', onMessage);
    const attempt = () => {
      attempts++;
      socket.send(question, port, HOST, (err) => err && done(err));
      timer = setTimeout(() => {
        if (attempts <= retries) attempt();
        else done(Object.assign(new Error(`no answer from ${HOST}:${port} after ${attempts} attempts`), { code: 'ETIMEDOUT' }));
      }, timeout);
    };
    attempt();
  });
}

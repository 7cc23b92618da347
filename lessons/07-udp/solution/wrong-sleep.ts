// A wrong answer: it sleeps for the whole timeout, then looks whether an answer came.
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';

export const HOST = '127.0.0.1';

export interface AskOptions {
  timeout: number;
  retries: number;
}

export async function ask(port: number, question: string, { timeout, retries }: AskOptions): Promise<string> {
  const socket = dgram.createSocket('udp4');
  let answer: string | undefined;
  socket.on('message', (message, rinfo) => {
    if (rinfo.address === HOST && rinfo.port === port) answer ??= message.toString();
  });
  try {
    for (let attempt = 0; attempt <= retries; attempt++) {
      await new Promise<void>((resolve, reject) => socket.send(question, port, HOST, (err) => (err ? reject(err) : resolve())));
      await sleep(timeout);
      if (answer !== undefined) return answer;
    }
    throw Object.assign(new Error(`no answer from ${HOST}:${port} after ${retries + 1} attempts`), { code: 'ETIMEDOUT' });
  } finally {
    socket.close();
  }
}

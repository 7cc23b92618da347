// A wrong answer: it gives up right after the last send, without waiting for its answer.
import dgram from 'node:dgram';
import { once } from 'node:events';

export const HOST = '127.0.0.1';

export interface AskOptions {
  timeout: number;
  retries: number;
}

export async function ask(port: number, question: string, { timeout, retries }: AskOptions): Promise<string> {
  const socket = dgram.createSocket('udp4');
  let answer: string | undefined;
  let sendError: Error | undefined;
  const wake = new AbortController();
  socket.on('message', (message, rinfo) => {
    if (rinfo.address !== HOST || rinfo.port !== port) return;
    answer ??= message.toString('utf8');
    wake.abort();
  });
  socket.on('error', (err) => {
    sendError ??= err;
    wake.abort();
  });
  try {
    for (let attempt = 1; attempt <= retries + 1; attempt++) {
      socket.send(question, port, HOST, (err) => err && socket.emit('error', err));
      // The last attempt has no one to wait for: it is the last.
      if (attempt === retries + 1) break;
      await Promise.race([once(wake.signal, 'abort'), new Promise((resolve) => setTimeout(resolve, timeout))]);
      if (sendError) throw sendError;
      if (answer !== undefined) return answer;
    }
    await new Promise((resolve) => setImmediate(resolve));
    if (sendError) throw sendError;
    if (answer !== undefined) return answer;
    throw Object.assign(new Error(`no answer from ${HOST}:${port} after ${retries + 1} attempts`), { code: 'ETIMEDOUT' });
  } finally {
    socket.close();
  }
}

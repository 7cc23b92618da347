// A wrong answer: a fresh socket for every attempt, and only the newest one listens: "an answer to an
// earlier send is stale". But it is the answer to the same question, and it may be the only one.
import dgram from 'node:dgram';

export const HOST = '127.0.0.1';

export interface AskOptions {
  timeout: number;
  retries: number;
}

export function ask(port: number, question: string, { timeout, retries }: AskOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const sockets: dgram.Socket[] = [];
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (err: Error | null, answer = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const socket of sockets) socket.close();
      if (err) reject(err);
      else resolve(answer);
    };
    const attempt = () => {
      // The previous socket stops listening: whatever it gets now is out of date.
      sockets.at(-1)?.removeAllListeners('message');
      const socket = dgram.createSocket('udp4');
      sockets.push(socket);
      socket.on('message', (message, rinfo) => {
        if (rinfo.address === HOST && rinfo.port === port) finish(null, message.toString('utf8'));
      });
      socket.on('error', (err) => finish(err));
      socket.send(question, port, HOST, (err) => err && finish(err));
      timer = setTimeout(() => {
        if (sockets.length <= retries) return attempt();
        finish(Object.assign(new Error(`no answer from ${HOST}:${port} after ${sockets.length} attempts`), { code: 'ETIMEDOUT' }));
      }, timeout);
    };
    attempt();
  });
}

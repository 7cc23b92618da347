// A wrong answer that treats UDP like TCP: it collects every datagram from the server, and resolves
// with all of them joined once a turn of the event loop has passed without another one.
import dgram from 'node:dgram';

export const HOST = '127.0.0.1';

export interface AskOptions {
  timeout: number;
  retries: number;
}

export function ask(port: number, question: string, { timeout, retries }: AskOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const chunks: Buffer[] = [];
    let attempts = 0;
    let timer: NodeJS.Timeout | undefined;
    let flush: NodeJS.Immediate | undefined;
    let settled = false;
    const finish = (err: Error | null, answer = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(answer);
    };
    socket.on('message', (message, rinfo) => {
      if (rinfo.address !== HOST || rinfo.port !== port) return;
      clearTimeout(timer);
      chunks.push(message);
      // More of the answer may be on its way: wait one turn before joining.
      clearImmediate(flush);
      flush = setImmediate(() => finish(null, Buffer.concat(chunks).toString('utf8')));
    });
    socket.on('error', (err) => finish(err));
    const attempt = () => {
      attempts += 1;
      socket.send(question, port, HOST, (err) => err && finish(err));
      timer = setTimeout(() => {
        if (attempts <= retries) return attempt();
        finish(Object.assign(new Error(`no answer from ${HOST}:${port} after ${attempts} attempts`), { code: 'ETIMEDOUT' }));
      }, timeout);
    };
    attempt();
  });
}

// A wrong answer: it resends every `timeout` ms with setInterval and forgets to count.
import dgram from 'node:dgram';

export const HOST = '127.0.0.1';

export interface AskOptions {
  timeout: number;
  retries: number;
}

export function ask(port: number, question: string, { timeout }: AskOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const send = () => socket.send(question, port, HOST, (err) => err && stop(err));
    const interval = setInterval(send, timeout);
    const stop = (err: Error | null, answer?: string) => {
      clearInterval(interval);
      socket.close();
      if (err) reject(err);
      else resolve(answer!);
    };
    socket.on('message', (message, rinfo) => {
      if (rinfo.address === HOST && rinfo.port === port) stop(null, message.toString());
    });
    socket.on('error', (err) => stop(err));
    send();
  });
}

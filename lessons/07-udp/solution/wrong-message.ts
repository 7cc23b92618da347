// A wrong answer: everything works, but the error when no answer comes says only "timeout".
import dgram from 'node:dgram';

export const HOST = '127.0.0.1';

export interface AskOptions {
  timeout: number;
  retries: number;
}

export function ask(port: number, question: string, { timeout, retries }: AskOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    let over = false;
    const end = () => {
      over = true;
      clearTimeout(timer);
      socket.close();
    };
    socket.on('message', (message, rinfo) => {
      if (over || rinfo.address !== HOST || rinfo.port !== port) return;
      end();
      resolve(message.toString('utf8'));
    });
    socket.on('error', (err) => {
      if (over) return;
      end();
      reject(err);
    });
    const send = () => {
      sent++;
      socket.send(question, port, HOST, (err) => {
        if (err && !over) {
          end();
          reject(err);
        }
      });
      timer = setTimeout(() => {
        if (sent <= retries) return send();
        end();
        reject(new Error('timeout'));
      }, timeout);
    };
    send();
  });
}

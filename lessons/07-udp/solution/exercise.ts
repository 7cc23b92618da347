// Exercise 07 · Ask, and ask again — the reference solution.
// Compare notes once your own answer passes `npm run check 07`.
import dgram from 'node:dgram';

export const HOST = '127.0.0.1';

export interface AskOptions {
  /** milliseconds to wait for an answer after each send */
  timeout: number;
  /** how many times to send the question again when no answer came */
  retries: number;
}

export function ask(port: number, question: string, { timeout, retries }: AskOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    // A socket of its own: an answer that arrives here can only be for this call.
    const socket = dgram.createSocket('udp4');
    let attempts = 0;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;

    // Settle once, then stop everything. A datagram that comes later finds the socket closed.
    const finish = (err: Error | null, answer = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(answer);
    };

    socket.on('message', (message, rinfo) => {
      // Anyone can send to this socket: only the server we asked may answer.
      if (rinfo.address !== HOST || rinfo.port !== port) return;
      finish(null, message.toString('utf8'));
    });
    socket.on('error', (err) => finish(err));

    const attempt = () => {
      attempts += 1;
      // Without a callback a failed send() says nothing. With one, a datagram too big to send fails now.
      socket.send(question, port, HOST, (err) => {
        if (err) finish(err);
      });
      timer = setTimeout(() => {
        if (attempts <= retries) return attempt();
        const err = new Error(`no answer from ${HOST}:${port} after ${attempts} attempts`);
        finish(Object.assign(err, { code: 'ETIMEDOUT' }));
      }, timeout);
    };
    attempt();
  });
}

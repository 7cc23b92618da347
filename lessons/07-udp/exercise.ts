// Exercise 07 · Ask, and ask again
//
// UDP promises nothing: a question can be lost, so can its answer; an answer
// can come twice, come late, or come from someone else. Write
// ask(port, question, { timeout, retries }). It must:
//   1. create a udp4 socket for this call alone (never one shared between
//      calls) and send `question` as one datagram to HOST:port;
//   2. resolve with the answer, as a string (UTF-8), from the first datagram
//      that comes from HOST:port. Ignore datagrams from any other address or
//      port: anyone can send to your socket;
//   3. when no answer came within `timeout` ms of a send, send the question
//      again on the same socket, at most `retries` times: 1 + retries sends in
//      all. An answer to any of them counts, even to an earlier one;
//   4. when the last send has had its `timeout` ms and no answer came, reject
//      with an Error whose message is
//        `no answer from ${HOST}:${port} after ${attempts} attempts`
//      (attempts = 1 + retries) and whose `code` is 'ETIMEDOUT';
//   5. when a send fails (send()'s callback gets an error, e.g. EMSGSIZE for
//      a question over 65507 bytes) or the socket emits 'error', reject with
//      that error at once: sending again cannot help;
//   6. settle once, then stop: clear your timer and close the socket. An
//      answer that comes later (a duplicate, a late one) must change nothing.
//
// Check your work: npm run check 07      Stuck? npm run hint 07
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
    const socket = dgram.createSocket('udp4');
    // TODO: on 'message' from HOST:port (rinfo says who sent it): resolve with the answer as text.
    // TODO: send the question; after `timeout` ms without an answer, send it again, at most `retries` times.
    // TODO: after the last timeout, reject with the error above; when a send fails or 'error' comes, reject with it.
    // TODO: settle once: clear the timer and close the socket.
  });
}

// Exercise 03 · A whole-reply client — the reference solution.
// Compare notes once your own answer passes `npm run check 03`.
import net from 'node:net';

export const HOST = '127.0.0.1';

export function fetchReply(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);

    // Keep the raw Buffers: a chunk may end halfway through a character.
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));

    // 'end' is the server's FIN: nothing more will come, so the reply is whole. Decode it once.
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));

    // Listening for the whole life of the socket covers a refused connect and a later reset.
    // After 'error' the socket closes by itself; a promise settles only once, so a late 'end' is harmless.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNREFUSED') return reject(err);
      const refused = new Error(`nothing is listening on ${HOST}:${port}`, { cause: err });
      reject(Object.assign(refused, { code: err.code }));
    });

    // end(data) writes the request, then sends our FIN: "that was the whole request".
    socket.end(request);
  });
}

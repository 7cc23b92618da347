// Exercise 03 · A whole-reply client
//
// Lesson 03's server reads a request until the client's FIN, then answers and
// ends its own side. Write the client: fetchReply(port, request). It must:
//   1. connect to HOST:port;
//   2. send the request, then end() its side: the server answers only after
//      it has read your FIN;
//   3. collect the reply from every 'data' event: it may come in several
//      chunks, and a chunk may end in the middle of a multi-byte UTF-8
//      character (like 'é' or '👋');
//   4. resolve with the whole reply as one string, only on 'end' (the
//      server's FIN says the reply is complete);
//   5. reject when the socket emits 'error', and never resolve with part of
//      a reply. For a refused connection (nothing listens on the port, code
//      'ECONNREFUSED'), reject with an Error whose message is
//      `nothing is listening on ${HOST}:${port}` and whose `code` is still
//      'ECONNREFUSED', so a caller can tell it from other failures. Any other
//      error, such as a reset (ECONNRESET), may reject as it is.
//   6. keep what a call collects inside that call: two calls at once must
//      each get their own reply.
//
// Check your work: npm run check 03      Stuck? npm run hint 03
import net from 'node:net';

export const HOST = '127.0.0.1';

export function fetchReply(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    // TODO: send the request, then end your side.
    // TODO: keep every 'data' chunk; on 'end', resolve with the whole reply as text.
    // TODO: on 'error', reject (with the message above for ECONNREFUSED).
  });
}

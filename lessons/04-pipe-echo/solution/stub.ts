// Exercise 04 · A shouting echo
//
// Lesson 04's echo sends back every byte it receives. Yours shouts.
// Write startShoutEcho(). The server it returns must:
//   1. send back every byte a client sends, in order, with the ASCII letters
//      a–z (bytes 0x61–0x7a) turned into A–Z (0x41–0x5a), and nothing else
//      (no greeting). Every other byte comes back exactly as it was: a client
//      may send any bytes, not only text, and TCP may cut them into chunks
//      anywhere;
//   2. respect back-pressure: when write() returns false, stop reading until
//      'drain'. While a client sends a lot and reads nothing, your server's
//      socket may hold at most writableHighWaterMark + one read (64 KiB) to
//      send, lesson 04's bound. (pipe() and pipeline() do this for you, and a
//      Transform stream can sit between them.)
//   3. end the connection with end(), not destroy(), after the client has
//      ended it and every byte has gone back. By default Node ends your side
//      right after the client's 'end': a Transform that calls its callback at
//      once has handed on every byte by then; one that calls back later (after
//      setImmediate, a timer or I/O) needs the server created with
//      { allowHalfOpen: true }, so that pipe() or pipeline() ends the socket
//      after its last byte;
//   4. survive a client that resets the connection: an 'error' on a socket
//      with no 'error' listener crashes the process (a pipeline() callback
//      counts as a listener).
// It listens on port 0 on '127.0.0.1' (done for you below).
//
// Check your work: npm run check 04      Stuck? npm run hint 04
import net from 'node:net';

/** A copy of `bytes` with a–z turned into A–Z; every other byte unchanged. */
function shout(bytes: Buffer): Buffer {
  // TODO: turn a–z into A–Z, byte by byte.
  return bytes;
}

export function startShoutEcho(): net.Server {
  const server = net.createServer((socket) => {
    // TODO: send every byte back through shout(), respecting back-pressure;
    //       end after the client's FIN; never let an 'error' crash the process.
  });
  server.listen(0, '127.0.0.1');
  return server;
}

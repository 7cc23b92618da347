// Exercise 01 · A greeting server
//
// Write startGreeter(). It must:
//   1. create a TCP server with net.createServer();
//   2. give every socket it accepts an 'error' listener. A client that resets
//      its connection makes its socket emit 'error', and an 'error' that
//      nobody listens for is thrown: it would stop the whole server. (The
//      check resets one client, then expects your server to greet the next.)
//   3. send GREETING to every client as soon as it connects, then end the
//      connection with end(): end() sends the client a FIN ("no more data")
//      after the last byte you wrote. Not destroy(): it closes at once and
//      drops whatever Node has not handed to the kernel yet;
//   4. listen on port 0 (the OS picks a free port) on the host '127.0.0.1'
//      only, so no other machine can connect;
//   5. return the server itself, right after calling listen(): no async, no
//      waiting for 'listening'. The check waits for 'listening' and reads the
//      real port with server.address().
// Each call of startGreeter() makes a new server of its own.
//
// Check your work: npm run check 01      Stuck? npm run hint 01
import net from 'node:net';

export const GREETING = 'Hello from the TCP workbook!\n';

export function startGreeter(): net.Server {
  const server = net.createServer((socket) => {
    // TODO: give the socket an 'error' listener.
    // TODO: send GREETING to the client, then end the connection.
  });
  // TODO: listen on port 0 on 127.0.0.1.
  return server;
}

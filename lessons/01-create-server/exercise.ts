// Exercise 01 · A greeting server
//
// Write startGreeter(). It must:
//   1. create a TCP server with net.createServer();
//   2. send GREETING to every client that connects, then end the connection
//      with end(): that sends the client a FIN, which means "no more data";
//   3. listen on port 0 (the OS picks a free port) on the host '127.0.0.1'
//      only, so no other machine can connect;
//   4. return the server. Do not wait for 'listening': the check waits for it
//      and reads the real port with server.address().
//
// A good habit: give every socket an 'error' listener, so a client that resets
// cannot crash your process.
//
// Check your work: npm run check 01      Stuck? npm run hint 01
import net from 'node:net';

export const GREETING = 'Hello from the TCP workbook!\n';

export function startGreeter(): net.Server {
  const server = net.createServer((socket) => {
    // TODO: send GREETING to the client, then end the connection.
  });
  // TODO: listen on port 0 on 127.0.0.1.
  return server;
}

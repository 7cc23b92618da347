// Exercise 02 · A graceful shutdown
//
// server.close() stops new connections at once, but the server emits 'close'
// only after its last connection has closed. And a net.Server cannot list its
// open connections for you: you have to keep track of them yourself.
//
// Write gracefulShutdown(server). It is called once, before the server
// listens. It returns a function, shutdown(), that:
//   1. stops the server accepting new connections;
//   2. ends every connection that is still open with end(), so each client
//      still gets the bytes already written to it, then a FIN (destroy()
//      would throw those bytes away);
//   3. returns a promise that resolves only once the server has emitted
//      'close'.
//
// Check your work: npm run check 02      Stuck? npm run hint 02
import net from 'node:net';

export function gracefulShutdown(server: net.Server): () => Promise<void> {
  // TODO: remember every socket the server accepts, and forget it when it closes.

  return async function shutdown(): Promise<void> {
    // TODO: stop accepting, end() every open socket, and wait for the server's 'close'.
  };
}

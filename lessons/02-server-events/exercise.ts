// Exercise 02 · A graceful shutdown
//
// server.close() stops new connections at once, but the server emits 'close'
// only after its last connection has closed. And a net.Server cannot list its
// open connections for you: you have to keep track of them yourself.
//
// Write gracefulShutdown(server). It is called once for each server, before
// that server listens, and returns that server's shutdown(graceMs). Keep what
// you track inside gracefulShutdown: two servers must not share it.
// shutdown(graceMs) must:
//   1. stop the server accepting new connections;
//   2. end every open connection with end(), right away. Its client still gets
//      every byte already written to it, then a FIN. (destroy() would drop what
//      Node still holds, and the client would get a normal FIN after a cut-off
//      reply: it could not even tell.)
//   3. when graceMs milliseconds have passed since shutdown() was called (not
//      before, and not much later), destroy() every connection still open: a
//      client that never reads or never closes its side must not hold the
//      server for ever;
//   4. return a promise that resolves when the server emits 'close': not
//      before, and not a fixed time after. Stop the graceMs timer then, or it
//      keeps the process alive.
//
// Check your work: npm run check 02      Stuck? npm run hint 02
import net from 'node:net';

export function gracefulShutdown(server: net.Server): (graceMs: number) => Promise<void> {
  // TODO: remember every socket the server accepts, and forget it when it closes.

  return async function shutdown(graceMs: number): Promise<void> {
    // TODO: stop accepting, end() every open socket, destroy() what is still
    //       open after graceMs, and resolve on the server's 'close'.
  };
}

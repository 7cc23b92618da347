// Exercise 05 · A request that does not stall — the reference solution.
// Compare notes once your own answer passes `npm run check 05`.
import net from 'node:net';

export function sendRequest(socket: net.Socket, head: string, body: string): void {
  // cork() keeps both writes in Node; uncork() hands them to the kernel
  // together, so the request leaves as one segment and Nagle has nothing to
  // hold back. Nagle itself stays on for whatever else this socket sends.
  socket.cork();
  socket.write(head);
  socket.write(body);
  socket.uncork();
}

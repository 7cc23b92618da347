// A known wrong answer that hangs: cork() without uncork(). Both pieces stay
// in Node's buffer and never reach the kernel, so the server waits for a
// request that never comes. The check must stop at "waiting for the server
// to receive the first request" within its timeout and say the socket is corked.
import net from 'node:net';

export function sendRequest(socket: net.Socket, head: string, body: string): void {
  socket.cork();
  socket.write(head);
  socket.write(body);
}

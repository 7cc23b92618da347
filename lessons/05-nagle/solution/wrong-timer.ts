// A known wrong answer: it writes the head, then the body on the next turn of
// the event loop, hoping the head is gone by then. sendRequest() returns with
// only the head written. The check must fail it at once at "calling
// sendRequest() for the first request".
import net from 'node:net';

export function sendRequest(socket: net.Socket, head: string, body: string): void {
  socket.write(head);
  setImmediate(() => socket.write(body));
}

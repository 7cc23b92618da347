// A known wrong answer: it writes the request in one piece, then destroys the
// socket to "send it now". The request may even arrive, but the connection is
// gone, and the next request has nowhere to go. The check must fail it at once
// at "calling sendRequest() for the first request".
import net from 'node:net';

export function sendRequest(socket: net.Socket, head: string, body: string): void {
  socket.write(head + body);
  socket.destroy();
}

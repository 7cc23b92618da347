// A known wrong answer: end() used as if it meant "flush the request now".
// It sends a FIN after the body: the first request gets through, but the
// connection can carry no more. The check must fail it at once at
// "calling sendRequest() for the first request".
import net from 'node:net';

export function sendRequest(socket: net.Socket, head: string, body: string): void {
  socket.write(head);
  socket.end(body);
}

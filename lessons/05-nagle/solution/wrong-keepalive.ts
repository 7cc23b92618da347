// A known wrong answer: it turns on TCP keep-alive, taking it for the option
// that stops the waiting. Keep-alive only probes an idle connection; Nagle
// stays on, and the body waits for the server's delayed ACK. The check must
// fail it at "comparing your round trips with two plain writes".
import net from 'node:net';

export function sendRequest(socket: net.Socket, head: string, body: string): void {
  socket.setKeepAlive(true);
  socket.write(head);
  socket.write(body);
}

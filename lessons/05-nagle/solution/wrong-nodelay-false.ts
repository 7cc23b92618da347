// A known wrong answer: it reaches for setNoDelay(), but passes false, read
// as "no delay: no". setNoDelay(false) leaves Nagle on (it is the default),
// so the body still waits for the server's delayed ACK. The check must fail
// it at "comparing your round trips with two plain writes".
import net from 'node:net';

export function sendRequest(socket: net.Socket, head: string, body: string): void {
  socket.setNoDelay(false);
  socket.write(head);
  socket.write(body);
}

// A known wrong answer: it corks, but uncorks after the head, before the body.
// uncork() hands the head to the kernel alone, and the body follows as a
// second small write: Nagle holds it as with two plain writes. The check must
// fail it at "comparing your round trips with two plain writes".
import net from 'node:net';

export function sendRequest(socket: net.Socket, head: string, body: string): void {
  socket.cork();
  socket.write(head);
  socket.uncork();
  socket.write(body);
}

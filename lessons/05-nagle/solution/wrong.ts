// A known wrong answer: lesson 05's own stalling client. Two plain writes on
// a socket with Nagle on: the kernel holds the body until the server's
// delayed ACK, about 40 ms per request on Linux. The bytes are right, so the
// check must fail it at "comparing your round trips with two plain writes".
import net from 'node:net';

export function sendRequest(socket: net.Socket, head: string, body: string): void {
  socket.write(head);
  socket.write(body);
}

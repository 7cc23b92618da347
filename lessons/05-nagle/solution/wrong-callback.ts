// A known wrong answer: it waits until the head's write() has called back
// before writing the body, as if that meant "the server has it". The callback
// only means "handed to the kernel": the body still leaves as a second small
// write, and Nagle holds it until the server's ACK. The check must fail it at
// "comparing your round trips with two plain writes".
import net from 'node:net';

export async function sendRequest(socket: net.Socket, head: string, body: string): Promise<void> {
  await new Promise((resolve) => socket.write(head, resolve));
  socket.write(body);
}

// A known wrong answer: corked (so it would not stall), but the parts go in
// the wrong order. The server reads "1\nping " — a line "1" — instead of
// "ping 1\n". The check must fail it at once at "waiting for the server to
// receive the first request".
import net from 'node:net';

export function sendRequest(socket: net.Socket, head: string, body: string): void {
  socket.cork();
  socket.write(body);
  socket.write(head);
  socket.uncork();
}

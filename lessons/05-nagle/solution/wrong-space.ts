// A known wrong answer: one write, so it would not stall, but it joins the
// parts with a space: the server gets "ping  1\n" instead of "ping 1\n". The
// check must fail it at "calling sendRequest() for the first request" (one
// byte more than the request).
import net from 'node:net';

export function sendRequest(socket: net.Socket, head: string, body: string): void {
  socket.write(`${head} ${body}`);
}

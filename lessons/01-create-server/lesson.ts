// Lesson 01 — create a TCP server, bind it to 127.0.0.1 and talk to it.
// Run: npm run lesson 01        (or: npm run lesson 01 -- --serve)
import { once } from 'node:events';
import net from 'node:net';
import { listening, serve, type LessonOptions } from '../shared/cli.ts';
import { readUntil } from '../shared/read.ts';
import { Timeline } from '../shared/timeline.ts';

export const GREETING = 'Welcome to the TCP workbook! Type a line and press Enter.\n';
/** Longest line we keep in memory; a client that never sends '\n' cannot fill it up. */
export const MAX_LINE = 4096;

export function reply(line: string): string {
  return `you said: ${line}\n`;
}

/** Greets every client, then answers each line it sends. */
export function createGreeter(): net.Server {
  // The function passed to createServer is the server's 'connection' listener.
  return net.createServer((socket) => {
    // Without an 'error' listener a client that resets would crash the process.
    socket.on('error', () => {});
    socket.write(GREETING);
    answerLines(socket, reply);
  });
}

/**
 * TCP delivers bytes, not messages: collect them and answer once per line.
 * (Lesson 05 reuses this; lesson 06 explains why it is needed.)
 */
export function answerLines(socket: net.Socket, answer: (line: string) => string): void {
  socket.setEncoding('utf8');
  let pending = '';
  socket.on('data', (text: string) => {
    pending += text;
    let newline: number;
    while ((newline = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, newline).replace(/\r$/, ''); // telnet ends lines with \r\n
      pending = pending.slice(newline + 1);
      socket.write(answer(line));
    }
    if (pending.length > MAX_LINE) socket.end(`line longer than ${MAX_LINE} characters, bye\n`);
  });
}

export async function main(opts: LessonOptions): Promise<void> {
  const server = createGreeter();
  const timeline = new Timeline({ live: opts.serve });
  // Prepended, so the timeline sees the socket before the greeter writes to it.
  server.prependListener('connection', (socket) => {
    timeline.server('connection', `from port ${socket.remotePort}`);
    timeline.watch(socket, 'server', ['data', 'end', 'close']);
  });
  if (opts.serve) return serve(server, opts);

  // listen(port, host, callback): the callback runs once, when the port is bound.
  // Port 0 asks the OS for any free port; server.address() tells which one we got.
  server.listen(opts.port, opts.host, () => timeline.server('listening'));
  const { address, port } = await listening(server);

  const client = net.connect(port, address);
  timeline.watch(client, 'client', ['connect', 'data', 'end', 'close']);
  await readUntil(client, (text) => text.includes(GREETING));
  client.write('hello\n');
  await readUntil(client, (text) => text.includes(reply('hello')));
  client.end();
  await once(client, 'close');

  server.close();
  await once(server, 'close');

  console.log(timeline.render());
  console.log(`\nasked for port ${opts.port}, server.address() says ${JSON.stringify({ address, port })}`);
  console.log(`bound to ${address} only: other machines cannot connect (try --serve, then nc ${address} ${port})`);
}

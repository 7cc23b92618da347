// Lesson 01 — create a TCP server, bind it to 127.0.0.1 and talk to it.
// Run: npm run lesson 01        (or: npm run lesson 01 -- --serve)
import { once } from 'node:events';
import net from 'node:net';
import { clientTarget, isLoopback, listening, serve, type LessonOptions } from '../shared/cli.ts';
import { readUntil } from '../shared/read.ts';
import { Timeline } from '../shared/timeline.ts';

export const GREETING = 'Welcome to the TCP workbook! Type a line and press Enter.\n';
/** The longest line the server answers, in characters (as string.length counts them). */
export const MAX_LINE = 4096;
/** What a client gets, before the server's FIN, when a line grows longer than MAX_LINE. */
export const TOO_LONG = `line longer than ${MAX_LINE} characters, bye\n`;

/** Answers are sent in pieces of about this many characters. */
export const ANSWER_BATCH = 8192;

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
 * While the client does not read the answers, stop reading its lines.
 * (Lesson 05 reuses this; lesson 06 explains why it is needed.)
 */
export function answerLines(socket: net.Socket, answer: (line: string) => string): void {
  socket.setEncoding('utf8'); // a character cut in two by TCP is decoded whole
  let unfinished = ''; // the start of a line whose '\n' has not arrived yet

  const onData = (text: string): void => {
    const received = unfinished + text;
    let answers = ''; // not sent yet
    let full = false; // write() said: the client is not reading fast enough
    const send = (): void => {
      if (answers !== '' && !socket.write(answers)) full = true;
      answers = '';
    };
    let start = 0; // where the next line begins
    for (let newline = received.indexOf('\n'); newline !== -1; newline = received.indexOf('\n', start)) {
      const line = withoutCR(received.slice(start, newline));
      start = newline + 1;
      if (line.length > MAX_LINE) return sayGoodbye(answers);
      answers += answer(line);
      // A few KiB per write: few system calls, and little held in memory at once.
      if (answers.length >= ANSWER_BATCH) send();
    }
    unfinished = received.slice(start); // what follows the last '\n'
    // The limit holds for an unfinished line too: a client that never sends '\n' cannot fill our memory.
    if (withoutCR(unfinished).length > MAX_LINE) return sayGoodbye(answers);
    send();
    // write() returns false once the answers waiting to be sent pass the high-water mark:
    // the client is not reading them. Stop reading its lines until they have drained.
    if (full) {
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
  };

  const sayGoodbye = (answers: string): void => {
    unfinished = '';
    // The socket keeps reading (removing a 'data' listener does not pause it) and drops what
    // still comes: closing with unread bytes would send a reset (RST) instead of a FIN (lesson 02).
    socket.off('data', onData);
    // One end(): it sends the goodbye, then the FIN. (end() twice would write after end.)
    socket.end(answers + TOO_LONG);
  };

  socket.on('data', onData);
  socket.on('end', () => {
    // The client's FIN also ends its last line, even without '\n': answer it. Node then
    // sends our FIN. Unless we ended first (the goodbye, or --serve stopping).
    if (unfinished !== '' && !socket.writableEnded) socket.write(answer(withoutCR(unfinished)));
  });
}

/** telnet ends its lines with \r\n: drop the \r. */
function withoutCR(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** One true sentence about who can reach a server bound to `address`. */
export function reach(address: string): string {
  if (isLoopback(address)) return `bound to ${address}, the loopback address: only programs on this machine can connect`;
  if (address === '0.0.0.0' || address === '::') return `bound to ${address}, every network interface: other machines that can reach this one can connect`;
  return `bound to ${address}: machines that can reach that address can connect`;
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

  const client = net.connect(port, clientTarget(address));
  timeline.watch(client, 'client', ['connect', 'data', 'end', 'close']);
  await readUntil(client, (text) => text.includes(GREETING));
  client.write('hello\n');
  await readUntil(client, (text) => text.includes(reply('hello')));
  client.end();
  await once(client, 'close');

  server.close();
  await once(server, 'close');

  console.log(timeline.render());
  console.log(`\nasked for port ${opts.port}, server.address() said ${JSON.stringify({ address, port })}`);
  console.log(`${reach(address)}.`);
  console.log('That server has closed. To talk to one yourself: npm run lesson 01 -- --serve (it prints the port to use).');
}

// Lesson 03 — the events of one connection, and the order they come in.
// Run: npm run lesson 03        (or: npm run lesson 03 -- --serve)
import { once } from 'node:events';
import net from 'node:net';
import { listening, positiveInt, serve, type FlagSpec, type LessonOptions } from '../shared/cli.ts';
import { readAll } from '../shared/read.ts';
import { SOCKET_EVENTS, Timeline } from '../shared/timeline.ts';

export const flags: Record<string, FlagSpec> = {
  idle: { type: 'string', hint: '<ms>', help: "with --serve: quiet time before the server's 'timeout' (default 10000)" },
};

/** The longest request the server keeps in memory. */
export const MAX_REQUEST = 64 * 1024;
export const TOO_LONG = `request longer than ${MAX_REQUEST} characters, not answered\n`;
/** What the server writes when a client has been quiet for too long. */
export const IDLE_NOTE = "(you have been quiet: still connected. Send a request, then end your side)\n";

/** The server's answer: the whole request in capitals, which proves it read all of it. */
export function reply(request: string): string {
  return request.toUpperCase();
}

/**
 * A request/reply server: it reads until the client's FIN ('end'), then
 * answers and ends its own side. `idleMs` arms an idle 'timeout' per socket.
 */
export function createRequestServer({ idleMs = 0 }: { idleMs?: number } = {}): net.Server {
  // allowHalfOpen: after the client's FIN our side stays open until we call end().
  return net.createServer({ allowHalfOpen: true }, (socket) => {
    // Without an 'error' listener a client that resets would crash the process.
    socket.on('error', () => {});

    if (idleMs > 0) {
      socket.setTimeout(idleMs);
      // 'timeout' is only a notice: the socket stays open and we may still write.
      socket.on('timeout', () => socket.write(IDLE_NOTE));
    }

    socket.setEncoding('utf8'); // 'data' now gives strings instead of Buffers
    let request = '';
    let tooLong = false;
    socket.on('data', (text: string) => {
      if (tooLong) return;
      request += text;
      if (request.length > MAX_REQUEST) {
        tooLong = true;
        socket.setTimeout(0);
        socket.end(TOO_LONG);
      }
    });

    // 'end': the client's FIN has been read, so the request is complete.
    socket.on('end', () => {
      socket.setTimeout(0); // setTimeout(0) disarms the idle timer
      if (tooLong) return;
      // The answer is ready a little later, as if it came from a database. Without
      // allowHalfOpen, Node would have ended our side already and this would fail (EPIPE).
      setImmediate(() => socket.end(reply(request)));
    });
  });
}

/** A clean exchange: connect, send the request, end our side, read the answer until the server's FIN. */
export async function exchange(timeline: Timeline, port: number, host: string, request: string): Promise<string> {
  const client = net.connect(port, host);
  timeline.watch(client, 'client', SOCKET_EVENTS);
  await once(client, 'connect');
  const answer = readAll(client);
  client.write(request);
  client.end(); // our FIN says "that was the whole request"
  const text = (await answer).toString();
  await once(client, 'close');
  return text;
}

/** Connect, stay quiet until 'timeout', then still send a request: the timeout closed nothing. */
export async function idleThenAsk(
  timeline: Timeline, port: number, host: string, idleMs: number, request: string,
): Promise<string> {
  const client = net.connect(port, host);
  timeline.watch(client, 'client', SOCKET_EVENTS);
  await once(client, 'connect');
  const answer = readAll(client);
  client.setTimeout(idleMs); // any read or write restarts this idle timer
  await once(client, 'timeout');
  client.setTimeout(0); // one notice is enough: disarm it
  client.end(request);
  const text = (await answer).toString();
  await once(client, 'close');
  return text;
}

/** Connect to a port nobody listens on. Resolves with the `hadError` of 'close'. */
export async function connectRefused(timeline: Timeline, port: number, host: string): Promise<boolean> {
  const client = net.connect(port, host);
  timeline.watch(client, 'client', SOCKET_EVENTS);
  // Without a listener, an 'error' event throws and crashes the process.
  client.on('error', () => {});
  // (events.once() would reject on that 'error', so wait for 'close' by hand.)
  return new Promise((resolve) => client.once('close', resolve));
}

export const DEMO_IDLE_MS = 100;

export async function main(opts: LessonOptions): Promise<void> {
  const idleMs = positiveInt('idle', opts.extra.idle, 10_000, 600_000);

  if (opts.serve) {
    const server = createRequestServer({ idleMs });
    // One live timeline per connection, each line tagged with the client's port.
    server.prependListener('connection', (socket) => {
      const tag = `[${socket.remotePort}]`;
      const live = new Timeline({ live: true, print: (line) => console.log(`${tag} ${line}`) });
      live.server('connection', `from ${socket.remoteAddress}:${socket.remotePort}`);
      live.watch(socket, 'server', SOCKET_EVENTS);
    });
    const note = [
      'Type a request, then end your side (Ctrl-D): the server answers after your FIN.',
      '(OpenBSD nc needs -N to send a FIN at Ctrl-D; telnet cannot send one, so it never gets an answer.)',
      `Stay quiet for ${idleMs} ms to see 'timeout': the server only writes a note, nothing closes.`,
    ].join('\n');
    return serve(server, opts, { note });
  }

  const server = createRequestServer();
  // The timeline of the demo that is running; the server side of each connection lands in it too.
  let timeline: Timeline;
  let serverSocketClosed: Promise<unknown> = Promise.resolve();
  // Prepended, so the timeline sees the socket before the server's own handler uses it.
  server.prependListener('connection', (socket) => {
    timeline.watch(socket, 'server', SOCKET_EVENTS);
    serverSocketClosed = new Promise((resolve) => socket.once('close', resolve));
  });
  server.listen(opts.port, opts.host);
  const { address, port } = await listening(server);

  console.log('1 · A clean exchange: the client sends a request and ends; the server answers, then ends.\n');
  timeline = new Timeline();
  await exchange(timeline, port, address, 'hello server');
  await serverSocketClosed;
  console.log(timeline.render());

  console.log(`\n2 · The client is quiet for ${DEMO_IDLE_MS} ms: 'timeout' fires, nothing closes, the exchange goes on.\n`);
  timeline = new Timeline();
  await idleThenAsk(timeline, port, address, DEMO_IDLE_MS, 'still there?');
  await serverSocketClosed;
  console.log(timeline.render());

  // Closed now, so nothing listens on its port any more.
  server.close();
  await once(server, 'close');

  console.log(`\n3 · The server is closed; connecting to port ${port} again is refused.\n`);
  timeline = new Timeline();
  await connectRefused(timeline, port, address);
  console.log(timeline.render());

  const sample = new net.Socket();
  console.log(`\nOn Node ${process.versions.node}, write() returns false once ${sample.writableHighWaterMark} bytes wait in a socket's buffer (writableHighWaterMark).`);
  sample.destroy();
}

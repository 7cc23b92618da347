// Lesson 03 — the events of one connection, and the order they come in.
// Run: npm run lesson 03        (or: npm run lesson 03 -- --serve)
import { once } from 'node:events';
import net from 'node:net';
import { listening, positiveInt, serve, type FlagSpec, type LessonOptions } from '../shared/cli.ts';
import { closed, readAll } from '../shared/read.ts';
import { SOCKET_EVENTS, Timeline } from '../shared/timeline.ts';

/** The longest idle time --idle accepts: ten minutes. */
export const MAX_IDLE_MS = 600_000;

export const flags: Record<string, FlagSpec> = {
  idle: {
    type: 'string',
    hint: '<ms>',
    help: `with --serve: quiet time before the server's 'timeout' (default 10000, at most ${MAX_IDLE_MS})`,
  },
};

/** The longest request the server keeps, in bytes (socket.bytesRead counts bytes, not characters). */
export const MAX_REQUEST = 1024 * 1024;
export const TOO_LONG = `request longer than ${MAX_REQUEST} bytes, not answered\n`;
/** What the server writes, once, to a client that has been quiet for too long. */
export const IDLE_NOTE = "(you have been quiet: still connected. Send a request, then end your side)\n";

/** The server's answer: the whole request in capitals, which proves it read all of it. */
export function reply(request: string): string {
  return request.toUpperCase();
}

/**
 * A request/reply server: it reads until the client's FIN ('end'), then
 * answers and ends its own side. `idleMs` arms an idle 'timeout' per socket.
 * Its memory per connection is bounded: at most MAX_REQUEST bytes of request,
 * then one reply (or one refusal) and at most one idle note to send.
 */
export function createRequestServer({ idleMs = 0 }: { idleMs?: number } = {}): net.Server {
  // allowHalfOpen: after the client's FIN our side stays open until we call end().
  return net.createServer({ allowHalfOpen: true }, (socket) => {
    // Without an 'error' listener a client that resets would crash the process.
    socket.on('error', () => {});

    if (idleMs > 0) {
      socket.setTimeout(idleMs);
      // 'timeout' is only a notice: the socket stays open and we may still write. One note is
      // enough, so disarm the timer: a client that never reads then gets one note, not one a minute.
      socket.once('timeout', () => {
        socket.setTimeout(0);
        socket.write(IDLE_NOTE);
      });
    }

    socket.setEncoding('utf8'); // 'data' now gives strings instead of Buffers
    let request = '';
    let tooLong = false;
    socket.on('data', (text: string) => {
      // Keep reading and dropping what a refused client still sends: closing with unread
      // bytes would send a reset instead of our refusal and FIN.
      if (tooLong) return;
      if (socket.bytesRead > MAX_REQUEST) {
        tooLong = true;
        request = '';
        socket.setTimeout(0);
        socket.end(TOO_LONG);
        return;
      }
      request += text;
    });

    // 'end': the client's FIN has been read, so the request is complete.
    socket.on('end', () => {
      socket.setTimeout(0); // setTimeout(0) disarms the idle timer
      // The answer is ready a little later, as if it came from a database. Without
      // allowHalfOpen, Node would have ended our side already and this would fail (EPIPE).
      setImmediate(() => {
        // Already ended: the request was refused, or the server is stopping (serve() ended it).
        if (!socket.writableEnded) socket.end(reply(request));
      });
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

/**
 * Write a request of writableHighWaterMark bytes before the connection is
 * made: nothing can go out yet, so Node keeps all of it and write() returns
 * false ("wait"). 'drain' follows once the connection is made and Node has
 * handed every byte to the kernel. Resolves with what write() returned and the answer.
 */
export async function writeWhileConnecting(timeline: Timeline, port: number, host: string): Promise<{ returned: boolean; answer: string }> {
  const client = net.connect(port, host);
  timeline.watch(client, 'client', SOCKET_EVENTS);
  const answer = readAll(client);
  const drained = once(client, 'drain');
  const returned = client.write('x'.repeat(client.writableHighWaterMark));
  timeline.client('write() returned', String(returned));
  await drained;
  client.end();
  const text = (await answer).toString();
  await once(client, 'close');
  return { returned, answer: text };
}

/**
 * Send half a request, wait until the server has read it, then reset the
 * connection (an RST instead of a FIN). Resolves with the `hadError` of the
 * server socket's 'close'. `serverSide` is the server's next accepted socket.
 */
export async function resetMidRequest(
  timeline: Timeline, port: number, host: string, serverSide: Promise<net.Socket>,
): Promise<boolean> {
  const client = net.connect(port, host);
  timeline.watch(client, 'client', SOCKET_EVENTS);
  await once(client, 'connect');
  const socket = await serverSide;
  const serverClosed = closed(socket);
  const read = once(socket, 'data');
  client.write('half a requ');
  // Reset only once the server has read those bytes: Node 20 and 22 report an RST that
  // arrives right behind unread bytes as a plain 'end' (lesson README, "A real reset").
  await read;
  timeline.add('client', 'resetAndDestroy()', 'RST', true);
  client.resetAndDestroy();
  return serverClosed;
}

/** Connect to a port nobody listens on. Resolves with the error's code and the `hadError` of 'close'. */
export async function connectRefused(timeline: Timeline, port: number, host: string): Promise<{ code?: string; hadError: boolean }> {
  const client = net.connect(port, host);
  timeline.watch(client, 'client', SOCKET_EVENTS);
  let code: string | undefined;
  // Without a listener, an 'error' event throws and crashes the process. Read err.code, not
  // err.message: a failed connect to a name can be an AggregateError whose message is empty.
  client.on('error', (err: NodeJS.ErrnoException) => (code = err.code));
  // (events.once() would reject on that 'error', so wait for 'close' by hand.)
  const hadError = await closed(client);
  return { code, hadError };
}

export const DEMO_IDLE_MS = 100;

export async function main(opts: LessonOptions): Promise<void> {
  const idleMs = positiveInt('idle', opts.extra.idle, 10_000, MAX_IDLE_MS);

  if (opts.serve) {
    const server = createRequestServer({ idleMs });
    // One live timeline per connection, each line tagged with the client's port. Each keeps at
    // most 1000 events (then says so), so a long conversation cannot fill the server's memory.
    server.prependListener('connection', (socket) => {
      const tag = `[${socket.remotePort}]`;
      const live = new Timeline({ live: true, print: (line) => console.log(`${tag} ${line}`) });
      live.server('connection', `from ${socket.remoteAddress}:${socket.remotePort}`);
      live.watch(socket, 'server', SOCKET_EVENTS);
    });
    const note = (host: string, port: number) => [
      'Type a request, then end your side (Ctrl-D): the server answers after your FIN.',
      '(OpenBSD nc needs -N to send a FIN at Ctrl-D; telnet cannot send one, so it never gets an answer.)',
      `Stay quiet for ${idleMs} ms to see 'timeout': the server writes one note, nothing closes.`,
      `A reset instead of a FIN: socat - TCP:${host.includes(':') ? `[${host}]` : host}:${port},linger=0, type a line, then Ctrl-\\`,
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
    serverSocketClosed = closed(socket);
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

  const sample = new net.Socket();
  const hwm = sample.writableHighWaterMark;
  sample.destroy();
  console.log(`\n3 · The client writes ${hwm} bytes (writableHighWaterMark) before it is connected: write() returns false.\n`);
  timeline = new Timeline();
  const early = await writeWhileConnecting(timeline, port, address);
  await serverSocketClosed;
  console.log(timeline.render());
  console.log(`\nwrite() returned ${early.returned}: nothing can be sent before 'connect', so Node kept all ${hwm} bytes`);
  console.log("(writableLength reached writableHighWaterMark). 'drain' came once Node had handed them all to the kernel.");

  console.log("\n4 · The client sends half a request, then resets the connection (an RST, not a FIN).\n");
  timeline = new Timeline();
  const serverSide = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  await resetMidRequest(timeline, port, address, serverSide);
  console.log(timeline.render());
  console.log("\nThe server's socket got 'error' ECONNRESET, then 'close' with hadError true. Its 'error' listener");
  console.log('kept the process alive, and the server goes on serving other clients.');

  // Closed now, so nothing listens on its port any more.
  server.close();
  await once(server, 'close');

  console.log(`\n5 · The server is closed; connecting to port ${port} again is refused.\n`);
  timeline = new Timeline();
  const refused = await connectRefused(timeline, port, address);
  console.log(timeline.render());
  console.log(`\nerr.code is ${refused.code}. Print err.code, not err.message: connecting to a name with several`);
  console.log('addresses (like localhost) can fail with an AggregateError whose message is empty.');
}

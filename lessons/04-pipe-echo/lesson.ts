// Lesson 04 — socket.pipe(socket): an echo server in one line, and why pipe()
// beats writing every 'data' chunk back yourself.
// Run: npm run lesson 04        (or: npm run lesson 04 -- --serve)
import { once } from 'node:events';
import net from 'node:net';
import { pipeline } from 'node:stream';
import { listening, positiveInt, serve, type FlagSpec, type LessonOptions } from '../shared/cli.ts';
import { closed, readAll } from '../shared/read.ts';
import { Timeline } from '../shared/timeline.ts';

/** The most --mib accepts: the naive echo of the demo holds about that much in memory. */
export const MAX_MIB = 256;

export const flags: Record<string, FlagSpec> = {
  mib: { type: 'string', hint: '<n>', help: `MiB the fast client sends in the back-pressure run (default 16, at most ${MAX_MIB})` },
};

const KiB = 1024;
const MiB = 1024 * KiB;
/** The most one read from the kernel delivers: one 'data' chunk (libuv reads 64 KiB at a time). */
export const READ = 64 * KiB;

// ── Three echo servers ─────────────────────────────────────────────────────

/**
 * The lesson's echo: every byte that comes in goes back out, nothing else.
 * `options` go to net.createServer, e.g. { highWaterMark } for other buffer sizes.
 */
export function createPipeEcho(options: net.ServerOpts = {}): net.Server {
  return net.createServer(options, (socket) => {
    // pipe() does not handle errors: without this, a client that resets crashes the process.
    socket.on('error', () => {});
    // Readable side into writable side. pipe() stops reading while the writable side is full,
    // and calls end() on it when the readable side ends (the client's FIN).
    socket.pipe(socket);
  });
}

/** The naive echo: writes each chunk back and ignores what write() returns. */
export function createNaiveEcho(): net.Server {
  return net.createServer((socket) => {
    socket.on('error', () => {});
    // write() returns false when Node's buffer is full, but nobody listens: reading never stops.
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
    // No 'end' handler needed: with allowHalfOpen false (the default) Node ends our side after 'end'.
  });
}

/** Today's choice: pipeline() pipes, then reports the outcome once and destroys the socket. */
export function createPipelineEcho(onDone: (err: NodeJS.ErrnoException | null) => void = () => {}): net.Server {
  return net.createServer((socket) => {
    // pipeline() listens for 'error' itself: a reset lands in this callback, not in a crash.
    pipeline(socket, socket, (err) => onDone((err ?? null) as NodeJS.ErrnoException | null));
  });
}

// ── Two clients ────────────────────────────────────────────────────────────

/**
 * A careful client: sends `data` honouring back-pressure, reads the echo at the
 * same time, ends, and resolves with every byte the server sent back.
 */
export async function roundTrip(port: number, host: string, data: Buffer, piece = 64 * KiB): Promise<Buffer> {
  const client = net.connect(port, host);
  const clientClosed = closed(client);
  const echoed = readAll(client); // reading starts now, while we are still writing
  await once(client, 'connect');
  for (let at = 0; at < data.length; at += piece) {
    // false = Node holds a full buffer for this socket: wait until it is sent before writing more.
    if (!client.write(data.subarray(at, at + piece))) await once(client, 'drain');
  }
  client.end(); // FIN after the last byte; the echo answers with its own FIN
  const result = await echoed;
  await clientClosed;
  return result;
}

export interface BufferReport {
  /** largest socket.writableLength seen on the server socket: bytes of writes Node has not finished */
  peak: number;
  /** largest socket.readableLength seen on the server socket: bytes read from the kernel, not yet taken by the echo */
  peakUnread: number;
  /** the server socket's writableHighWaterMark: write() returns false from here */
  highWaterMark: number;
  /** the server socket's readableHighWaterMark: a paused socket reads from the kernel until it holds this much */
  readableHighWaterMark: number;
  /** largest single 'data' chunk the server read */
  biggestChunk: number;
  /** bytes the server had read when the client started to read */
  readBeforeClientRead: number;
  /** true if the server had stopped reading (readableFlowing === false) at that moment */
  serverStoppedReading: boolean;
  /** bytes the client got back in the end */
  echoed: number;
}

/**
 * A careless client: sends `total` bytes as fast as it can and reads nothing
 * until the server stops reading (pipe) or has read everything (naive). Then it
 * reads, so both sides drain and end cleanly. The server side is sampled after
 * every 'data' event, so the peak does not depend on timing.
 */
export async function fastSenderSlowReader(server: net.Server, port: number, host: string, total: number): Promise<BufferReport> {
  const report: BufferReport = {
    peak: 0, peakUnread: 0, highWaterMark: 0, readableHighWaterMark: 0, biggestChunk: 0, readBeforeClientRead: 0, serverStoppedReading: false, echoed: 0,
  };
  let serverRead = 0;
  let letClientRead!: () => void;
  const serverStopped = new Promise<void>((resolve) => (letClientRead = resolve));
  let serverClosed!: Promise<boolean>;

  // Added after the echo's own handler, so this 'data' listener runs after its write().
  let serverSocket: net.Socket | undefined;
  server.once('connection', (socket: net.Socket) => {
    serverSocket = socket;
    report.highWaterMark = socket.writableHighWaterMark;
    report.readableHighWaterMark = socket.readableHighWaterMark;
    serverClosed = closed(socket);
    socket.on('data', (chunk: Buffer) => {
      serverRead += chunk.length;
      report.biggestChunk = Math.max(report.biggestChunk, chunk.length);
      report.peak = Math.max(report.peak, socket.writableLength);
      report.peakUnread = Math.max(report.peakUnread, socket.readableLength);
      // pipe() pauses the socket when write() returns false: readableFlowing becomes false.
      if (socket.readableFlowing === false || serverRead === total) {
        if (report.readBeforeClientRead === 0) {
          report.readBeforeClientRead = serverRead;
          report.serverStoppedReading = socket.readableFlowing === false;
        }
        letClientRead();
      }
    });
    socket.once('close', () => letClientRead()); // never leave the client waiting
  });

  const client = net.connect(port, host);
  client.pause(); // read nothing for now: the echo piles up in the kernel, then in the server
  const clientClosed = closed(client);
  await once(client, 'connect');
  const piece = Buffer.alloc(64 * KiB, 0x2a);
  for (let sent = 0; sent < total; sent += piece.length) {
    client.write(piece.subarray(0, Math.min(piece.length, total - sent))); // return value ignored on purpose
  }
  client.end();

  await serverStopped;
  if (serverSocket && report.serverStoppedReading) {
    // A paused socket still reads from the kernel until its own buffer holds readableHighWaterMark:
    // give it a few turns of the event loop to get there, then note how much it holds.
    for (let turn = 0; turn < 100 && serverSocket.readableLength < serverSocket.readableHighWaterMark; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    report.peakUnread = Math.max(report.peakUnread, serverSocket.readableLength);
  }
  client.on('data', (chunk: Buffer) => (report.echoed += chunk.length));
  client.resume(); // now read: the server's buffer drains and both sides end
  await once(client, 'end');
  await Promise.all([clientClosed, serverClosed]);
  return report;
}

// ── The lesson ─────────────────────────────────────────────────────────────

export function size(bytes: number): string {
  if (bytes < KiB) return `${bytes} B`;
  if (bytes < MiB) return `${(bytes / KiB).toFixed(1)} KiB`;
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

/** Resolve with the next `n` bytes the socket receives (the echo of one write). */
function nextBytes(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      have += chunk.length;
      if (have >= n) {
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
  });
}

async function measure(make: () => net.Server, host: string, total: number): Promise<BufferReport> {
  const server = make();
  server.listen(0, host);
  const { address, port } = await listening(server);
  const report = await fastSenderSlowReader(server, port, address, total);
  server.close();
  await once(server, 'close');
  return report;
}

export async function main(opts: LessonOptions): Promise<void> {
  const mib = positiveInt('mib', opts.extra.mib, 16, MAX_MIB);

  const server = createPipeEcho();
  const timeline = new Timeline({ live: opts.serve });
  server.prependListener('connection', (socket: net.Socket) => {
    timeline.server('connection', `from port ${socket.remotePort}`);
    if (!opts.serve) return timeline.watch(socket, 'server', ['data', 'end', 'finish', 'close']);
    // A file sent through nc is hundreds of chunks: log totals, not one row per chunk.
    socket.on('end', () => timeline.server('end', `client's FIN after ${size(socket.bytesRead)}`));
    socket.on('error', (err: NodeJS.ErrnoException) => timeline.server('error', err.code ?? err.message));
    socket.on('close', (hadError) => timeline.server('close', `echoed ${size(socket.bytesWritten)}, hadError: ${hadError}`));
  });
  if (opts.serve) {
    return serve(server, opts, { note: (host, port) => [
      'No greeting: every byte you send comes back unchanged. Echo a file and compare:',
      `  nc -N ${host} ${port} < file > copy && cmp file copy`,
      `  socat -t 10 - TCP:${host.includes(':') ? `[${host}]` : host}:${port} < file > copy && cmp file copy`,
    ].join('\n') });
  }

  server.listen(opts.port, opts.host);
  const { address, port } = await listening(server);

  // A short exchange: text, then bytes that are not text at all.
  const client = net.connect(port, address);
  timeline.watch(client, 'client', ['connect', 'data', 'end', 'close']);
  const clientClosed = closed(client);
  await once(client, 'connect');
  const text = Buffer.from('hello\n');
  const binary = Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x80]);
  for (const bytes of [text, binary]) {
    const echo = nextBytes(client, bytes.length);
    client.write(bytes);
    if (!(await echo).equals(bytes)) throw new Error('the echo changed the bytes');
  }
  client.end();
  await once(client, 'end');
  await clientClosed;
  server.close();
  await once(server, 'close');
  console.log(timeline.render());
  console.log('\nNo greeting, no encoding: the echo returns exactly the bytes it got, and ends when the client ends.\n');

  // Back-pressure: the same fast client against pipe(), pipe() with a bigger high-water mark, and the naive echo.
  const total = mib * MiB;
  const piped = await measure(createPipeEcho, address, total);
  const bigger = await measure(() => createPipeEcho({ highWaterMark: MiB }), address, total);
  const naive = await measure(createNaiveEcho, address, total);
  console.log(`A client sends ${size(total)} as fast as it can and reads nothing until the server stops`);
  console.log('reading or has read everything. The most the server socket held, and what it read meanwhile:\n');
  const rows: [string, BufferReport][] = [
    ['socket.pipe(socket)', piped],
    ['  with highWaterMark 1 MiB', bigger],
    ["on('data', d => write(d))", naive],
  ];
  console.log(`  ${'echo'.padEnd(27)} ${'unsent'.padStart(9)} ${'unread'.padStart(9)}   server read before the client read`);
  for (const [name, r] of rows) {
    const how = r.serverStoppedReading ? 'then stopped reading' : 'all of it';
    console.log(`  ${name.padEnd(27)} ${size(r.peak).padStart(9)} ${size(r.peakUnread).padStart(9)}   ${size(r.readBeforeClientRead)}, ${how}`);
  }
  console.log(`\nunsent = socket.writableLength, unread = socket.readableLength. On Node ${process.version} the high-water marks`);
  console.log(`are ${size(piped.highWaterMark)} by default (${size(bigger.highWaterMark)} with the option); one read is at most ${size(READ)}.`);
  console.log('The bound of pipe(): writableHighWaterMark + one read to send, readableHighWaterMark + one read received.');
  console.log(`Once the client read, every echo returned every byte: ${[piped, bigger, naive].every((r) => r.echoed === total) ? 'yes' : 'NO'}.`);
}

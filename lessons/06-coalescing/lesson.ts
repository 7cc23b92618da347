// Lesson 06 — one write() is not one 'data' event: TCP carries bytes, not messages.
// Run: npm run lesson 06        (or: npm run lesson 06 -- --serve)
import { once } from 'node:events';
import net from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { listening, positiveInt, serve, type FlagSpec, type LessonOptions } from '../shared/cli.ts';
import { readAll } from '../shared/read.ts';
import { Timeline } from '../shared/timeline.ts';
import { kernelCounters, segmentsUnavailable, type KernelCounters } from '../05-nagle/lesson.ts';
import { FrameTooLargeError, LineDecoder } from './framing.ts';

export const DEFAULT_WRITES = 100;
export const MAX_WRITES = 10_000;
export const flags: Record<string, FlagSpec> = {
  writes: { type: 'string', hint: '<n>', help: `number of small writes in the write cases (default ${DEFAULT_WRITES}, at most ${MAX_WRITES})` },
};

// ── Part 1: count write() calls and 'data' events ─────────────────────────────

export const CASES = ['same tick', 'one per setImmediate', 'corked', 'one large write'] as const;
export type Case = (typeof CASES)[number];
export const SMALL_WRITE = Buffer.from('0123456789'); // 10 bytes
export const LARGE_WRITE_BYTES = 1024 * 1024; // 1 MiB

export interface Tally {
  /** 'data' events */
  events: number;
  bytes: number;
  /** size of the largest 'data' chunk */
  largest: number;
}

/** Count one socket's 'data' events and bytes until the peer's FIN. */
export async function countChunks(socket: net.Socket): Promise<Tally> {
  const tally: Tally = { events: 0, bytes: 0, largest: 0 };
  socket.on('data', (chunk: Buffer) => {
    tally.events += 1;
    tally.bytes += chunk.length;
    tally.largest = Math.max(tally.largest, chunk.length);
  });
  await once(socket, 'end');
  return tally;
}

/** Counts what each client sends; when the client ends, replies with the tally as JSON. */
export function createCounter(options: net.ServerOpts = {}): net.Server {
  // allowHalfOpen: the socket stays writable after the client's FIN, until we end() it with the reply.
  return net.createServer({ allowHalfOpen: true, ...options }, (socket) => {
    // Without an 'error' listener a client that resets would crash the process.
    socket.on('error', () => {});
    // (A reset rejects the promise; the 'error' listener above has dealt with it.)
    countChunks(socket).then((tally) => socket.end(`${JSON.stringify(tally)}\n`), () => {});
  });
}

/** write() that resolves when its callback runs: the bytes are with the kernel then. */
function written(socket: net.Socket, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())));
}

/** Make one case's write() calls; resolves with their number once every callback ran. */
export async function writeCase(socket: net.Socket, name: Case, writes = DEFAULT_WRITES): Promise<number> {
  const sent: Promise<void>[] = [];
  switch (name) {
    case 'same tick': // one loop, no await: the receiver cannot read in between
      for (let i = 0; i < writes; i++) sent.push(written(socket, SMALL_WRITE));
      break;
    case 'one per setImmediate': // the event loop turns between writes, so the receiver can read
      for (let i = 0; i < writes; i++) {
        await nextTurn();
        sent.push(written(socket, SMALL_WRITE));
      }
      break;
    case 'corked': // cork() holds the writes; uncork() hands them to the kernel as one writev()
      socket.cork();
      for (let i = 0; i < writes; i++) sent.push(written(socket, SMALL_WRITE));
      socket.uncork();
      break;
    case 'one large write':
      sent.push(written(socket, Buffer.alloc(LARGE_WRITE_BYTES, 'x')));
      break;
  }
  await Promise.all(sent);
  return sent.length;
}

export interface Measurement extends Tally {
  name: Case;
  writes: number;
  /** data segments the client's kernel sent (Linux with `ss`); undefined elsewhere */
  segments?: number;
}

/**
 * Connect with Nagle off, make one case's writes, end, and read the counter's
 * reply. Where `ss` exists, also count the data segments the client's kernel
 * sent: its counter before the writes, and once every byte was acknowledged.
 */
export async function measure(port: number, host: string, name: Case, writes = DEFAULT_WRITES): Promise<Measurement> {
  // noDelay: true turns Nagle off, so every write leaves at once. Merging still happens.
  const client = net.connect({ port, host, noDelay: true });
  await once(client, 'connect');
  const reply = readAll(client);
  const before = (await kernelCounters(port, [client.localPort!]))?.get(client.localPort!);
  const count = await writeCase(client, name, writes);
  const after = before && (await acknowledged(port, client.localPort!));
  client.end();
  const tally = JSON.parse((await reply).toString()) as Tally;
  const segments = before && after ? after.dataSegmentsOut - before.dataSegmentsOut : undefined;
  return { name, writes: count, ...tally, segments };
}

/**
 * The kernel's counters of one socket once it holds no unacknowledged bytes
 * (Send-Q 0), so that every segment it will send for them has been sent.
 * A write() callback only means "handed to the kernel". Undefined without `ss`.
 */
async function acknowledged(remotePort: number, localPort: number): Promise<KernelCounters | undefined> {
  for (let tries = 0; tries < 200; tries++) {
    const counters = (await kernelCounters(remotePort, [localPort]))?.get(localPort);
    if (!counters || counters.sendQueue === 0) return counters;
  }
  return undefined;
}

// ── Part 2: the cure — a server that reads lines, not chunks ─────────────────

/** Longest line the line server accepts, in bytes. */
export const MAX_LINE = 1024;

export function answer(n: number, line: string): string {
  return `line ${n}: ${line}\n`;
}

/**
 * Decodes newline-delimited lines from whatever chunks arrive and answers each
 * one. `onLine` sees every decoded line (the lesson draws them).
 */
export function createLineServer(onLine: (line: string) => void = () => {}): net.Server {
  // allowHalfOpen: after the client's FIN we may still answer its last line, then end().
  return net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    const decoder = new LineDecoder({ maxBytes: MAX_LINE });
    let count = 0;
    const answerLine = (line: string) => {
      onLine(line);
      return answer(++count, line);
    };

    const onData = (chunk: Buffer) => {
      let replies = ''; // the answers to every line this chunk completes: one write() per chunk
      try {
        // Calls us zero, one or many times: a chunk is not a line.
        decoder.push(chunk, (line) => (replies += answerLine(line)));
      } catch (err) {
        if (!(err instanceof FrameTooLargeError)) throw err;
        // Too long: answer the lines before it, say why and hang up, instead of buffering without bound.
        socket.off('data', onData);
        socket.end(`${replies}${err.message}, bye\n`);
        return;
      }
      // Back-pressure: write() returns false once Node holds a full buffer for a client
      // that is not reading. Stop reading from it until that buffer has drained.
      if (replies !== '' && !socket.write(replies)) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    };
    socket.on('data', onData);
    // The client is done: a last line without a newline still counts.
    socket.on('end', () => {
      if (socket.writableEnded) return; // we hung up already
      decoder.end((line) => socket.write(answerLine(line)));
      socket.end();
    });
  });
}

// ── Part 3: the UTF-8 trap ────────────────────────────────────────────────────

export const HELLO = Buffer.from('你好'); // e4 bd a0 | e5 a5 bd: two characters, 3 bytes each
export const SPLIT_AT = 4; // inside 好

/** Sends 你好 in two parts, the first ending in the middle of 好. */
export function createSplitSender(): net.Server {
  return net.createServer((socket) => {
    socket.on('error', () => {});
    socket.write(HELLO.subarray(0, SPLIT_AT));
    // Send the rest only once the client says it has the first part: two separate 'data' events.
    socket.once('data', () => socket.end(HELLO.subarray(SPLIT_AT)));
  });
}

/** Receive 你好 from createSplitSender() and return the raw chunks. */
export async function receiveSplit(port: number, host: string): Promise<Buffer[]> {
  const client = net.connect(port, host);
  const chunks: Buffer[] = [];
  let received = 0;
  client.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    const before = received;
    received += chunk.length;
    // Tell the server once we hold its first part, so that it sends the rest.
    if (before < SPLIT_AT && received >= SPLIT_AT) client.write('got it');
  });
  await once(client, 'end');
  return chunks;
}

// ── The lesson ────────────────────────────────────────────────────────────────

/** The line server with its chunks and lines drawn on a timeline. */
export function drawnLineServer(timeline: Timeline): net.Server {
  // The detail as a function: worked out only while the timeline still draws.
  const server = createLineServer((line) => timeline.server('line', () => JSON.stringify(line)));
  // Prepended, so the timeline sees each chunk before the line server decodes it.
  server.prependListener('connection', (socket) => {
    timeline.server('connection', `from port ${socket.remotePort}`);
    timeline.watch(socket, 'server', ['data', 'end', 'close']);
  });
  return server;
}

export async function main(opts: LessonOptions): Promise<void> {
  const writes = positiveInt('writes', opts.extra.writes, DEFAULT_WRITES, MAX_WRITES);
  if (opts.serve) return serve(drawnLineServer(new Timeline({ live: true })), opts, { note: serveNote });

  // 1. The same bytes written four ways, counted by the receiver.
  const counter = createCounter();
  counter.listen(opts.port, opts.host);
  const { address, port } = await listening(counter);
  const rows: Measurement[] = [];
  for (const name of CASES) rows.push(await measure(port, address, name, writes));
  counter.close();
  await once(counter, 'close');
  console.log(table(rows));
  const missing = await segmentsUnavailable();
  if (missing) console.log(`(No data segments, —: ${missing}.)`);

  // 2. Three writes in one tick: one chunk or more, but always three lines.
  const timeline = new Timeline();
  const lineServer = drawnLineServer(timeline);
  lineServer.listen(opts.port, opts.host);
  const lines = await listening(lineServer);
  const client = net.connect({ port: lines.port, host: lines.address, noDelay: true });
  timeline.watch(client, 'client', ['data', 'end', 'close']);
  await once(client, 'connect');
  const replies = readAll(client);
  client.write('one\n');
  client.write('two\nthr');
  client.write('ee\n');
  client.end();
  await replies;
  await once(client, 'close');
  lineServer.close();
  await once(lineServer, 'close');
  console.log(`\nThree writes in one tick to a server that decodes lines (Nagle off):\n\n${timeline.render()}`);

  // 3. 你好 arriving in two chunks.
  const sender = createSplitSender();
  sender.listen(opts.port, opts.host);
  const split = await listening(sender);
  const chunks = await receiveSplit(split.port, split.address);
  sender.close();
  await once(sender, 'close');
  const decoder = new StringDecoder('utf8'); // what setEncoding('utf8') uses
  console.log(`\n你好 is ${hex(HELLO)}. The server sent it as ${SPLIT_AT} + ${HELLO.length - SPLIT_AT} bytes;`);
  console.log(`the client got ${chunks.length} 'data' events: ${chunks.map((c) => `[${hex(c)}]`).join(' ')}`);
  const show = (label: string, text: string) => console.log(`  ${label.padEnd(32)}${JSON.stringify(text)}`);
  show('each chunk decoded alone:', chunks.map((c) => c.toString('utf8')).join(''));
  show('StringDecoder / setEncoding:', chunks.map((c) => decoder.write(c)).join('') + decoder.end());
  show('all bytes joined, then decoded:', Buffer.concat(chunks).toString('utf8'));
  console.log('(U+FFFD, shown as �, replaces bytes that are not a whole character)');
}

/** What --serve prints under its banner, with the real host and port. */
export function serveNote(host: string, port: number): string {
  return [
    "Each 'data' event is logged with its size, then the lines decoded from it. Try, in another terminal:",
    `  printf 'one\\ntwo\\nthr' | nc -N ${host} ${port}`,
    "      one chunk, two lines, and 'thr' when the client ends",
    `  nc ${host} ${port}, type abc, press Ctrl-D`,
    '      a chunk with no line yet; Enter finishes the line',
    `  a line over ${MAX_LINE} bytes is refused and the connection closed`,
  ].join('\n');
}

function table(rows: Measurement[]): string {
  const header = `${'case'.padEnd(22)}${'write() calls'.padStart(14)}${'data segments'.padStart(15)}${"'data' events".padStart(15)}${'bytes'.padStart(10)}${'largest chunk'.padStart(15)}`;
  const lines = rows.map((r) =>
    `${r.name.padEnd(22)}${String(r.writes).padStart(14)}${String(r.segments ?? '—').padStart(15)}${String(r.events).padStart(15)}${String(r.bytes).padStart(10)}${String(r.largest).padStart(15)}`,
  );
  return [
    "Writes, the client's data segments and the server's 'data' events, measured just now (Nagle off on the client):\n",
    header,
    '─'.repeat(header.length),
    ...lines,
  ].join('\n');
}

function hex(bytes: Buffer): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

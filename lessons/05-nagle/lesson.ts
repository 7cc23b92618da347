// Lesson 05 — Nagle's algorithm: a request sent as two small writes, delayed
// ACKs, and three ways out: setNoDelay(true), cork()/uncork(), one write.
// Run: npm run lesson 05   (or: npm run lesson 05 -- --rounds 40, or -- --serve)
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { listening, positiveInt, serve, type FlagSpec, type LessonOptions } from '../shared/cli.ts';
import { answerLines } from '../01-create-server/lesson.ts';
import { readUntil } from '../shared/read.ts';
import { Timeline } from '../shared/timeline.ts';

export const DEFAULT_ROUNDS = 15;
export const MAX_ROUNDS = 1000;
export const flags: Record<string, FlagSpec> = {
  rounds: { type: 'string', hint: '<n>', help: `measured round trips per variant (default ${DEFAULT_ROUNDS}, at most ${MAX_ROUNDS})` },
};
/** The timeline draws rounds until this many have stalled (the first rounds are fast)… */
export const TRACED_STALLS = 2;
/** …but never more rounds than this. */
export const MAX_TRACED_ROUNDS = 6;
/** A round "stalled" when its second write reached the server this late (ms): half of Linux's shortest delayed ACK. */
export const STALL_MS = 20;
export { MAX_LINE } from '../01-create-server/lesson.ts';

/** The server's answer to one complete request line. */
export function answer(line: string): string {
  return line.startsWith('ping ') ? `pong ${line.slice('ping '.length)}\n` : 'send a line like: ping 1\n';
}

/**
 * A request/reply server: it answers a request only once the whole line has
 * arrived, like any server that cannot answer half a request.
 */
export function createPongServer(options: net.ServerOpts = {}): net.Server {
  return net.createServer(options, (socket) => {
    // Without an 'error' listener a client that resets would crash the process.
    socket.on('error', () => {});
    // Lesson 01's line handling: buffer the bytes, answer each complete line.
    answerLines(socket, answer);
  });
}

/** How the client hands one request ("ping <n>\n") to its socket. */
export type Sending = 'two writes' | 'corked' | 'one write' | 'one write per byte';

export function sendRequest(socket: net.Socket, n: number, sending: Sending): void {
  const head = 'ping ';
  const body = `${n}\n`;
  switch (sending) {
    case 'two writes': // a header, then a body: the classic pattern that stalls
      socket.write(head);
      socket.write(body);
      return;
    case 'corked': // cork() keeps the writes in Node; uncork() passes them to the kernel as one writev()
      socket.cork();
      socket.write(head);
      socket.write(body);
      socket.uncork();
      return;
    case 'one write':
      socket.write(head + body);
      return;
    case 'one write per byte':
      for (const byte of head + body) socket.write(byte);
      return;
  }
}

/** Send one request, wait for its whole reply line; returns the round trip in ms. */
export async function roundTrip(client: net.Socket, n: number, sending: Sending): Promise<number> {
  const start = performance.now();
  const replied = readUntil(client, (text) => text.endsWith('\n'));
  sendRequest(client, n, sending);
  await replied;
  return performance.now() - start;
}

export interface Variant {
  label: string;
  sending: Sending;
  /** how the client turns Nagle off; undefined leaves the OS default (Nagle on) */
  noDelay?: 'setNoDelay(true)' | 'noDelay option';
}

export const VARIANTS = {
  nagle: { label: 'two writes, Nagle on (default)', sending: 'two writes' },
  noDelay: { label: 'two writes, setNoDelay(true)', sending: 'two writes', noDelay: 'setNoDelay(true)' },
  corked: { label: 'two writes, cork()/uncork()', sending: 'corked' },
  bytesNagle: { label: 'one write per byte, Nagle on', sending: 'one write per byte' },
  bytesNoDelay: { label: 'one write per byte, setNoDelay(true)', sending: 'one write per byte', noDelay: 'setNoDelay(true)' },
} satisfies Record<string, Variant>;

export interface Measurement {
  variant: Variant;
  /** the first round trip of the connection (not part of `rtts`) */
  first: number;
  /** the measured round trips, in ms */
  rtts: number[];
  /** data segments the client sent during the measured rounds; undefined without `ss` */
  dataSegments?: number;
}

/**
 * Measure several variants at once, each on its own connection: connect, one
 * warm-up round, then `rounds` measured round trips. `ss` runs only between
 * these phases, so starting it never delays a round trip.
 */
export async function measureAll(
  port: number,
  host: string,
  variants: readonly Variant[],
  rounds: number,
): Promise<Measurement[]> {
  const clients = await Promise.all(variants.map(async (variant) => {
    const client = net.connect({ port, host, noDelay: variant.noDelay === 'noDelay option' });
    await once(client, 'connect');
    // The OS default is Nagle on, and Node leaves it alone unless asked.
    if (variant.noDelay === 'setNoDelay(true)') client.setNoDelay(true);
    return client;
  }));
  const ports = clients.map((client) => client.localPort!);
  try {
    const firsts = await Promise.all(clients.map((client, i) => roundTrip(client, 0, variants[i].sending)));
    const before = await dataSegmentsOut(port, ports);
    const rtts = await Promise.all(clients.map(async (client, i) => {
      const times: number[] = [];
      for (let n = 1; n <= rounds; n++) times.push(await roundTrip(client, n, variants[i].sending));
      return times;
    }));
    const after = await dataSegmentsOut(port, ports);
    return variants.map((variant, i) => ({
      variant,
      first: firsts[i],
      rtts: rtts[i],
      dataSegments: before && after ? after.get(ports[i])! - before.get(ports[i])! : undefined,
    }));
  } finally {
    await Promise.all(clients.map((client) => {
      client.end();
      return client.closed ? undefined : once(client, 'close');
    }));
  }
}

const run = promisify(execFile);

/** What the kernel says about one TCP socket, read with `ss -tin`. */
export interface KernelCounters {
  /** data segments sent so far (`data_segs_out`; `segs_out` would also count pure ACKs) */
  dataSegmentsOut: number;
  /** bytes written but not yet acknowledged by the peer (the Send-Q column) */
  sendQueue: number;
}

/**
 * The kernel's counters of each client socket bound to one of `localPorts` and
 * connected to `remotePort`, read with `ss` (Linux, iproute2). Both ports are
 * matched: Linux reuses a local port for connections to other peers, and
 * another server may listen on it. Undefined where `ss` is missing or a socket is gone.
 */
export async function kernelCounters(remotePort: number, localPorts: readonly number[]): Promise<Map<number, KernelCounters> | undefined> {
  if (process.platform !== 'linux') return undefined;
  const filter = `( dport = :${remotePort} and ( ${localPorts.map((port) => `sport = :${port}`).join(' or ')} ) )`;
  let stdout: string;
  try {
    ({ stdout } = await run('ss', ['-tinH', filter]));
  } catch {
    return undefined;
  }
  // One block per socket: "ESTAB 0 0 127.0.0.1:41738 127.0.0.1:34205", then a line of counters.
  const counts = new Map<number, KernelCounters>();
  for (const block of stdout.split(/\n(?=\S)/)) {
    const columns = /^\S+\s+\d+\s+(\d+)\s+\S*:(\d+)\s+\S*:(\d+)\s/.exec(block);
    if (!columns || Number(columns[3]) !== remotePort) continue;
    counts.set(Number(columns[2]), {
      // ss leaves the field out while it is still 0.
      dataSegmentsOut: Number(/\bdata_segs_out:(\d+)/.exec(block)?.[1] ?? 0),
      sendQueue: Number(columns[1]),
    });
  }
  return localPorts.every((port) => counts.has(port)) ? counts : undefined;
}

/** Data segments sent from each socket bound to one of `localPorts` and connected to `remotePort`; undefined without `ss`. */
export async function dataSegmentsOut(remotePort: number, localPorts: readonly number[]): Promise<Map<number, number> | undefined> {
  const counts = await kernelCounters(remotePort, localPorts);
  return counts && new Map([...counts].map(([port, c]) => [port, c.dataSegmentsOut]));
}

/** Why data segments are not counted here, or undefined when they are. */
export async function segmentsUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `data segments are counted with ss, which is Linux-only (this is ${process.platform})`;
  try {
    await run('ss', ['-V']);
    return undefined;
  } catch {
    return 'data segments are counted with ss, which is missing here: install iproute2';
  }
}

/** The value that `p` (0–1) of the values do not exceed (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

export function median(values: readonly number[]): number {
  return percentile(values, 0.5);
}

/** The table of round trips that the lesson and the benchmark print. */
export function formatTable(results: readonly Measurement[], rounds: number): string {
  const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 1)} ms`.padStart(9);
  const wide = Math.max(...results.map((r) => r.variant.label.length));
  const rows = [
    `${'variant'.padEnd(wide)}  ${'1st round'.padStart(9)} ${'median'.padStart(9)} ${'p90'.padStart(9)}  data segments per request`,
    `${'─'.repeat(wide)}  ${'─'.repeat(9)} ${'─'.repeat(9)} ${'─'.repeat(9)}  ${'─'.repeat(25)}`,
  ];
  for (const { variant, first, rtts, dataSegments } of results) {
    const segments = dataSegments === undefined ? '—' : (dataSegments / rounds).toFixed(1);
    rows.push(`${variant.label.padEnd(wide)}  ${ms(first)} ${ms(median(rtts))} ${ms(percentile(rtts, 0.9))}  ${segments}`);
  }
  return rows.join('\n');
}

export interface Trace {
  rtts: number[];
  /** per round: ms from the client's last write() to the server's 'data' that completed the line */
  waits: number[];
}

/**
 * What the lesson prints after a drawn round. A stall is the second piece
 * reaching the server late (`wait`); time spent elsewhere (`rtt - wait`) is not
 * Nagle's: on a busy machine the process may simply not run for a while.
 */
export function roundNote(rtt: number, wait: number): string {
  const elsewhere = rtt - wait;
  const busy = `the process was held up for ${elsewhere.toFixed(0)} ms elsewhere (a busy machine)`;
  if (wait > STALL_MS) return elsewhere > STALL_MS ? `  ← stalled; and ${busy}` : '  ← stalled';
  if (elsewhere > STALL_MS) return `  ← slow, but not a stall: the second piece arrived at once; ${busy}`;
  return '';
}

/**
 * Send requests on one watched connection (Nagle on) until `stalls` rounds
 * have stalled or `maxRounds` were sent, so the timeline shows both kinds.
 */
export async function traceRounds(
  port: number,
  host: string,
  timeline: Timeline,
  stalls = TRACED_STALLS,
  maxRounds = MAX_TRACED_ROUNDS,
): Promise<Trace> {
  const client = net.connect(port, host);
  timeline.watch(client, 'client', ['connect', 'data']);
  await once(client, 'connect');
  const trace: Trace = { rtts: [], waits: [] };
  for (let n = 1; n <= maxRounds && trace.waits.filter((w) => w > STALL_MS).length < stalls; n++) {
    const from = timeline.events.length;
    trace.rtts.push(await roundTrip(client, n, 'two writes'));
    const events = timeline.events.slice(from);
    const lastWrite = events.findLast((e) => e.side === 'client' && e.name === 'write()')!;
    const completed = events.findLast((e) => e.side === 'server' && e.name === 'data')!;
    trace.waits.push(completed.ms - lastWrite.ms);
  }
  client.end();
  await once(client, 'close');
  return trace;
}

/** Draw a server's connections on a timeline: the first one only, or every one (--serve). */
export function drawConnections(server: net.Server, timeline: Timeline, which: 'first' | 'every'): void {
  let drawNext = true;
  // Prepended, so the timeline sees each socket before the server's own listener reads from it.
  server.prependListener('connection', (socket) => {
    if (!drawNext) return;
    drawNext = which === 'every';
    timeline.server('connection', `from port ${socket.remotePort}`);
    timeline.watch(socket, 'server', ['data', 'end', 'close']);
  });
}

/** What --serve prints under its banner: a client that shows the stall, for the real address. */
export function serveNote(host: string, port: number): string {
  return [
    'Type "ping 1" and Enter: nc sends the whole line in one write, so it never stalls.',
    'To see the stall, send 5 requests as two writes each:',
    `  node -e "const s=require('net').connect(${port},'${host}');let n=0,t;` +
      `const go=()=>{t=performance.now();s.write('ping ');s.write(++n+'\\n')};` +
      `s.on('connect',go).on('data',d=>{console.log(String(d).trim(),(performance.now()-t).toFixed(1),'ms');n<5?go():s.end()})"`,
    "Add s.setNoDelay(true); after connect(...) and the stall is gone.",
  ].join('\n');
}

export async function main(opts: LessonOptions): Promise<void> {
  const rounds = positiveInt('rounds', opts.extra.rounds, DEFAULT_ROUNDS, MAX_ROUNDS);
  const server = createPongServer();
  const timeline = new Timeline({ live: opts.serve });
  // Draw the first connection (the traced one); with --serve, every one.
  drawConnections(server, timeline, opts.serve ? 'every' : 'first');
  if (opts.serve) return serve(server, opts, { note: serveNote });

  server.listen(opts.port, opts.host);
  const { address, port } = await listening(server);

  // 1. A few rounds on one connection, drawn as a timeline.
  const trace = await traceRounds(port, address, timeline);
  // 2. Every variant on its own connection, all at once: each waits for its own replies.
  const results = await measureAll(port, address, Object.values(VARIANTS), rounds);

  server.close();
  await once(server, 'close');

  console.log('Requests on one connection, each sent as write("ping ") then write("<n>\\n"), Nagle on (the default):\n');
  console.log(timeline.render());
  console.log();
  trace.rtts.forEach((rtt, i) => {
    const note = roundNote(rtt, trace.waits[i]);
    console.log(`round ${i + 1}: reply after ${rtt.toFixed(1)} ms; "${i + 1}\\n" reached the server ${trace.waits[i].toFixed(1)} ms after its write()${note}`);
  });
  if (trace.waits.some((w) => w > STALL_MS)) {
    console.log('write() handed both pieces to the kernel at once. The kernel held the second (Nagle: it is smaller than');
    console.log("a full segment and earlier data was not yet acknowledged), and the server's kernel held back that ACK");
    console.log('(delayed ACK) until its timer fired.');
  }

  console.log(`\nRound trips: ${rounds} per variant after 1 warm-up round (change with --rounds <n>), all variants at once:\n`);
  console.log(formatTable(results, rounds));
  const missing = await segmentsUnavailable();
  if (missing) console.log(`\nNo data segments (—): ${missing}.`);
}

// Lesson 07 — UDP with dgram: datagrams instead of a stream, no connection, no promise of delivery.
// Run: npm run lesson 07        (or: npm run lesson 07 -- --serve)
import dgram from 'node:dgram';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCounter, measure } from '../06-coalescing/lesson.ts';
import {
  clientTarget, explainListenError, forgetStopSignal, positiveInt, stopSignal, type FlagSpec, type LessonOptions,
} from '../shared/cli.ts';
import { unboundUdpPort } from '../shared/ports.ts';
import { Timeline, describe, type Side } from '../shared/timeline.ts';

/** Datagrams sent at once in part 4 (--sends). */
export const DEFAULT_SENDS = 200;

export const flags: Record<string, FlagSpec> = {
  sends: { type: 'string', hint: '<n>', help: `datagrams sent at once to a receiver that is not reading (default ${DEFAULT_SENDS})` },
};

// ── The server ────────────────────────────────────────────────────────────────

/** The answer to one datagram: a short line, whatever the datagram's size. */
export function reply(message: Buffer): string {
  return `got ${message.length} B\n`;
}

/** The longest reply (to a 65507-byte datagram). A reply never grows with what arrives. */
export const MAX_REPLY = Buffer.byteLength(reply(Buffer.alloc(65507)));

/**
 * Replies the server lets wait in Node's send queue (bytes) before it drops new
 * replies. UDP has no back-pressure: nothing slows down whoever sends to us.
 */
export const MAX_QUEUED = 64 * 1024;

/**
 * A UDP server: it answers every datagram with one datagram, to the address
 * the datagram came from. It keeps nothing per peer, and drops a reply rather
 * than queue it without limit. Bind it yourself: `socket.bind(0, '127.0.0.1')`.
 */
export function createReplyServer(onDropped: (rinfo: dgram.RemoteInfo) => void = () => {}, type: dgram.SocketType = 'udp4'): dgram.Socket {
  const socket = dgram.createSocket(type);
  // A UDP socket has no per-client sockets: this one 'error' listener keeps the server alive.
  socket.on('error', () => {});
  // 'message' gives the datagram and rinfo: who sent it. There is no 'connection' and no 'end'.
  socket.on('message', (message, rinfo) => {
    if (socket.getSendQueueSize() > MAX_QUEUED) return onDropped(rinfo);
    socket.send(reply(message), rinfo.port, rinfo.address);
  });
  return socket;
}

/** Wait for `'listening'` after bind(); a failed bind becomes a LessonError that says what to do. */
export function bound(socket: dgram.Socket): Promise<net.AddressInfo> {
  return new Promise((resolve, reject) => {
    const onListening = () => {
      socket.off('error', onError);
      resolve(socket.address());
    };
    const onError = (err: NodeJS.ErrnoException & { address?: string; port?: number }) => {
      socket.off('listening', onListening);
      reject(explainListenError(err));
    };
    socket.once('listening', onListening);
    socket.once('error', onError);
  });
}

function socketType(host: string): dgram.SocketType {
  return net.isIPv6(host) ? 'udp6' : 'udp4';
}

// ── Drawing datagrams ─────────────────────────────────────────────────────────

/** Record a dgram socket's events, and its send() calls as arrows to the other side. */
export function drawDatagrams(timeline: Timeline, socket: dgram.Socket, side: Side): void {
  // Prepended, so each event is recorded before the lesson's own listeners react to it.
  socket.prependListener('listening', () => timeline.add(side, 'listening', () => where(socket.address())));
  socket.prependListener('connect', () => timeline.add(side, 'connect', `to :${socket.remoteAddress().port}`));
  socket.prependListener('message', (message: Buffer, rinfo: dgram.RemoteInfo) =>
    timeline.add(side, `message :${rinfo.port}`, () => describe(message)));
  socket.prependListener('error', (err: NodeJS.ErrnoException) => timeline.add(side, 'error', err.code ?? err.message));
  socket.prependListener('close', () => timeline.add(side, 'close'));
  const send = socket.send;
  socket.send = function (this: dgram.Socket, ...args: unknown[]) {
    // An unbound socket binds first and calls send() again once bound: record that second call.
    if (isBound(this)) {
      const data = Array.isArray(args[0]) ? Buffer.concat(args[0].map((piece) => Buffer.from(piece))) : args[0];
      timeline.add(side, 'send()', () => describe(data), true);
    }
    return (send as (...a: unknown[]) => void).apply(this, args);
  } as typeof socket.send;
}

function isBound(socket: dgram.Socket): boolean {
  try {
    socket.address();
    return true;
  } catch {
    return false;
  }
}

function where(address: { address: string; port: number }): string {
  return address.address.includes(':') ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

// ── Part 2: boundaries ────────────────────────────────────────────────────────

export const SMALL_SENDS = 100;

/** Datagram `i` of a run: 10 bytes, all different ("0000000042"). */
export function numbered(i: number): Buffer {
  return Buffer.from(String(i).padStart(10, '0'));
}

export interface Arrivals {
  /** 'message' events */
  messages: number;
  /** sizes of the datagrams that arrived, in order */
  sizes: number[];
  /** every datagram that arrived was one of those sent, whole, and arrived once */
  wholeAndDistinct: boolean;
}

/**
 * Send `count` numbered datagrams in one loop (one tick) and count the
 * 'message' events. The receiver gets a buffer large enough to hold them all,
 * so it keeps up and none is lost.
 */
export async function sendSmall(host: string, count = SMALL_SENDS): Promise<Arrivals> {
  const receiver = dgram.createSocket({ type: socketType(host), recvBufferSize: 1024 * 1024 });
  receiver.bind(0, host);
  const { port } = await bound(receiver);
  const arrivals = watchArrivals(receiver, count);
  const sender = dgram.createSocket(socketType(host));
  for (let i = 0; i < count; i++) sender.send(numbered(i), port, host);
  await messages(receiver, () => arrivals.messages >= count);
  sender.close();
  receiver.close();
  return arrivals;
}

/**
 * Wait for 'message' events until `done()` is true. On loopback that takes
 * milliseconds; the 2-second limit only stops a broken run from waiting for ever.
 */
async function messages(receiver: dgram.Socket, done: () => boolean): Promise<void> {
  const limit = AbortSignal.timeout(2000);
  while (!done() && !limit.aborted) {
    await once(receiver, 'message', { signal: limit }).catch(() => {});
  }
}

/** Count what arrives on `receiver`, and check each datagram is a whole numbered one, seen once. */
function watchArrivals(receiver: dgram.Socket, count: number): Arrivals {
  const arrivals: Arrivals = { messages: 0, sizes: [], wholeAndDistinct: true };
  const seen = new Set<number>();
  receiver.on('message', (message: Buffer) => {
    if (message.equals(LAST)) return; // see lastOneIn()
    arrivals.messages += 1;
    if (arrivals.sizes.length < 10_000) arrivals.sizes.push(message.length);
    const n = Number(message.toString());
    if (message.length !== 10 || !Number.isInteger(n) || n >= count || seen.has(n)) arrivals.wholeAndDistinct = false;
    seen.add(n);
  });
  return arrivals;
}

// ── Part 3: the size limit ────────────────────────────────────────────────────

/** 65535 (the IPv4 length field) − 20 (IPv4 header) − 8 (UDP header). */
export const MAX_UDP4_PAYLOAD = 65535 - 20 - 8;
/** 65535 (the IPv6 payload length field, which does not count the IPv6 header) − 8 (UDP header). */
export const MAX_UDP6_PAYLOAD = 65535 - 8;

export function maxPayload(type: dgram.SocketType): number {
  return type === 'udp6' ? MAX_UDP6_PAYLOAD : MAX_UDP4_PAYLOAD;
}

/** Send one datagram of `size` bytes; resolves with the error code, or the size that arrived. */
export async function trySize(host: string, size: number): Promise<{ error?: string; arrived?: number }> {
  const receiver = dgram.createSocket(socketType(host));
  receiver.bind(0, host);
  const { port } = await bound(receiver);
  const sender = dgram.createSocket(socketType(host));
  try {
    let arrived = 0;
    receiver.on('message', (message: Buffer) => (arrived = message.length));
    // The send callback is where a failed send() says so; without a callback, it says nothing.
    const err = await new Promise<Error | null>((resolve) => sender.send(Buffer.alloc(size), port, host, resolve));
    if (err) return { error: (err as NodeJS.ErrnoException).code };
    await messages(receiver, () => arrived > 0);
    return { arrived };
  } finally {
    sender.close();
    receiver.close();
  }
}

// ── Part 4: no delivery promise ───────────────────────────────────────────────

/** The receive buffer asked for in the loss demo (Linux doubles it, see socket(7)). */
export const SMALL_BUFFER = 8192;

export interface Flood extends Arrivals {
  sent: number;
  /** send() calls whose callback got an error */
  sendErrors: number;
  /** bytes still in the sender's queue in Node once every send() callback has run */
  queuedAfterSends: number;
  /** what getRecvBufferSize() reports */
  bufferSize: number;
  /** the kernel's drop count for the receiving socket (Linux, IPv4), or null */
  dropped: number | null;
  /** how much the system-wide Udp RcvbufErrors counter rose (Linux), or null */
  rcvbufErrors: number | null;
}

/**
 * Send `count` datagrams in one loop to a socket with a small receive buffer.
 * The receiver runs in this same thread, so it cannot read until the loop is
 * done: the kernel keeps what fits in its buffer and drops the rest.
 */
export async function flood(host: string, count = DEFAULT_SENDS, recvBufferSize = SMALL_BUFFER, readCounters = true): Promise<Flood> {
  const type = socketType(host);
  const receiver = dgram.createSocket({ type, recvBufferSize });
  receiver.bind(0, host);
  const { port } = await bound(receiver);
  const arrivals = watchArrivals(receiver, count);
  const sender = dgram.createSocket(type);
  const errorsBefore = readCounters ? rcvbufErrors(type) : null;

  let sendErrors = 0;
  await new Promise<void>((resolve) => {
    let done = 0;
    for (let i = 0; i < count; i++) {
      sender.send(numbered(i), port, host, (err) => {
        if (err) sendErrors += 1;
        if (++done === count) resolve();
      });
    }
  });

  const queuedAfterSends = sender.getSendQueueSize();

  // Now the receiver reads what the kernel kept. Wait until every datagram is accounted for.
  // Linux counts the drops: each datagram has either arrived or been dropped.
  let dropped = readCounters ? socketDrops(port, type) : null;
  for (let waited = 0; dropped !== null && arrivals.messages + dropped < count && waited < 2000; waited += 5) {
    await sleep(5);
    dropped = socketDrops(port, type);
  }
  if (dropped === null) await lastOneIn(sender, receiver, port, host);
  const errorsAfter = readCounters ? rcvbufErrors(type) : null;
  const bufferSize = receiver.getRecvBufferSize();
  sender.close();
  receiver.close();
  return {
    ...arrivals,
    sent: count,
    sendErrors,
    queuedAfterSends,
    bufferSize,
    dropped,
    rcvbufErrors: errorsBefore === null || errorsAfter === null ? null : errorsAfter - errorsBefore,
  };
}

const LAST = Buffer.from('last');

/**
 * Where the kernel's counters cannot be read: send one more datagram, again
 * until it arrives. It queues behind everything the kernel kept, so when it
 * arrives, the rest has been read.
 */
async function lastOneIn(sender: dgram.Socket, receiver: dgram.Socket, port: number, host: string): Promise<void> {
  let arrived = false;
  const onMessage = (message: Buffer) => {
    if (message.equals(LAST)) arrived = true;
  };
  receiver.prependListener('message', onMessage);
  for (let tries = 0; !arrived && tries < 100; tries++) {
    sender.send(LAST, port, host);
    await sleep(20);
  }
  receiver.off('message', onMessage);
}

/** Linux: the kernel's drop counter of the UDP socket bound to `port` (/proc/net/udp or udp6, last column). */
export function socketDrops(port: number, type: dgram.SocketType = 'udp4'): number | null {
  let table: string;
  try {
    table = readFileSync(type === 'udp6' ? '/proc/net/udp6' : '/proc/net/udp', 'utf8');
  } catch {
    return null;
  }
  const local = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1]?.endsWith(local)) return Number(fields.at(-1));
  }
  return null;
}

/**
 * Linux: the system-wide count of datagrams dropped for a full receive buffer:
 * Udp RcvbufErrors in /proc/net/snmp (IPv4), Udp6RcvbufErrors in /proc/net/snmp6.
 */
export function rcvbufErrors(type: dgram.SocketType = 'udp4'): number | null {
  let text: string;
  try {
    text = readFileSync(type === 'udp6' ? '/proc/net/snmp6' : '/proc/net/snmp', 'utf8');
  } catch {
    return null;
  }
  if (type === 'udp6') {
    const line = /^Udp6RcvbufErrors\s+(\d+)/m.exec(text);
    return line ? Number(line[1]) : null;
  }
  const [names, values] = text.split('\n').filter((l) => l.startsWith('Udp:')).map((l) => l.split(/\s+/));
  const at = names?.indexOf('RcvbufErrors') ?? -1;
  return at > 0 && values ? Number(values[at]) : null;
}

// ── The lesson ────────────────────────────────────────────────────────────────

export async function main(opts: LessonOptions): Promise<void> {
  const sends = positiveInt('sends', opts.extra.sends, DEFAULT_SENDS, 10_000);
  if (opts.serve) return serveUdp(opts);
  const type = socketType(opts.host);

  // 1. A server, a client, a few datagrams: drawn as a timeline.
  const timeline = new Timeline();
  const server = createReplyServer(() => {}, type);
  drawDatagrams(timeline, server, 'server');
  // bind() is UDP's listen(): port 0 asks the OS for any free port.
  server.bind(opts.port, opts.host);
  const { address, port } = await bound(server);

  const client = dgram.createSocket(type);
  drawDatagrams(timeline, client, 'client');
  // No connect step: the first send() binds the client to a free port, and the datagram goes.
  client.send('hello', port, address);
  await once(client, 'message');
  // Three sends in one tick: three datagrams, three 'message' events, three replies.
  let replies = 0;
  const threeReplies = new Promise<void>((resolve) => client.on('message', () => ++replies === 3 && resolve()));
  for (const word of ['one', 'two', 'three']) client.send(word, port, address);
  await threeReplies;
  const before = timeline.names('server').length;
  client.close();
  await once(client, 'close');

  // 2. The same 100 small sends as lesson 06, over UDP and over TCP.
  const udp = await sendSmall(address);
  const counter = createCounter();
  counter.listen(0, opts.host);
  await once(counter, 'listening');
  const tcp = await measure((counter.address() as net.AddressInfo).port, address, 'same tick', SMALL_SENDS);
  counter.close();
  await once(counter, 'close');

  // 3. The size limit.
  const limit = maxPayload(type);
  const largest = await trySize(address, limit);
  const tooLarge = await trySize(address, limit + 1);

  // 4. A sender faster than its receiver.
  const lost = await flood(address, sends);

  // 5. Sending to a port where nothing is bound: without and with connect().
  const refused = await unboundUdpPort(address);
  const loose = dgram.createSocket(type);
  const looseErrors: string[] = [];
  loose.on('error', (err: NodeJS.ErrnoException) => looseErrors.push(err.code ?? err.message));
  loose.send('anyone there?', refused, address);
  const connected = dgram.createSocket(type);
  connected.connect(refused, address);
  await once(connected, 'connect');
  // connect() sent nothing; the port unreachable message comes back after the first send.
  const answered = once(connected, 'error') as Promise<[NodeJS.ErrnoException]>;
  connected.send('anyone there?');
  const [err] = await answered;
  connected.close();
  loose.close();
  // Everything above took a while: had the client's close() sent anything, the server would have seen it.
  const after = timeline.names('server').length;
  server.close();

  console.log(timeline.render());
  console.log(`\nThe client closed its socket: the server saw nothing (${before} server events before, ${after} since).`);
  console.log('UDP has no connection: no \'connection\', no \'end\', no \'close\' from a peer.');

  console.log(`\n${SMALL_SENDS} send()/write() calls of 10 B in one tick, received just now:`);
  console.log(`  UDP: ${udp.messages} 'message' events, sizes ${summary(udp.sizes)}${udp.wholeAndDistinct ? ', each datagram whole and distinct' : ''}`);
  console.log(`  TCP: ${tcp.events} 'data' event${tcp.events === 1 ? '' : 's'} (lesson 06: the bytes merged)`);

  const why = type === 'udp6' ? '65535 − 8 B UDP header; IPv6 does not count its own header' : '65535 − 20 B IPv4 header − 8 B UDP header';
  console.log(`\nDatagram size: ${limit} B ${largest.arrived === limit ? `arrived as one 'message' of ${largest.arrived} B` : `failed: ${largest.error}`};`);
  console.log(`  ${limit + 1} B: ${tooLarge.error ? `${tooLarge.error} in the send() callback` : `arrived (${tooLarge.arrived} B)`} (${why} = ${limit}).`);

  console.log(`\n${lost.sent} datagrams sent in one loop to a socket that asked for a ${SMALL_BUFFER} B receive buffer (it got ${lost.bufferSize} B):`);
  console.log(`  send() errors: ${lost.sendErrors}. Received: ${lost.messages}${lost.wholeAndDistinct ? ', each whole and distinct' : ''}.`);
  if (lost.dropped !== null) {
    const [table, counter] = type === 'udp6' ? ['/proc/net/udp6', 'Udp6RcvbufErrors'] : ['/proc/net/udp', 'Udp RcvbufErrors'];
    console.log(`  Dropped by the kernel: ${lost.dropped} (${table} "drops" for that socket; ${counter} rose by ${lost.rcvbufErrors}).`);
  } else {
    console.log(`  Lost: ${lost.sent - lost.messages} (the kernel's drop counters are read on Linux only).`);
  }
  console.log('  Nothing resent them, nothing slowed the sender, nobody was told.');

  console.log(`\nTo ${address}:${refused}, where nothing is bound:`);
  console.log(`  without connect(): ${looseErrors.length === 0 ? 'no error at all' : looseErrors.join(', ')}`);
  console.log(`  after connect():   'error' ${err.code} (from ${err.syscall}), after send() had reported success`);
}

function summary(sizes: number[]): string {
  const distinct = [...new Set(sizes)];
  return distinct.length === 1 ? `all ${distinct[0]} B` : `${Math.min(...sizes)}–${Math.max(...sizes)} B`;
}

// ── --serve ───────────────────────────────────────────────────────────────────

/**
 * `--serve` for UDP: there is no net.Server, so the lesson runs its own loop:
 * bind, print how to reach it, answer datagrams until Ctrl-C or SIGTERM, close.
 */
export async function serveUdp(opts: LessonOptions): Promise<void> {
  const timeline = new Timeline({ live: true });
  const server = createReplyServer((rinfo) => timeline.server('dropped', `reply to :${rinfo.port} (send queue full)`), socketType(opts.host));
  server.bind(opts.port, opts.host);
  const { address, port } = await bound(server);
  drawDatagrams(timeline, server, 'server');

  // Closing a UDP socket is immediate: a second Ctrl-C has nothing left to force.
  const force = () => {};
  const stopped = stopSignal(force);
  const host = clientTarget(address);
  console.log(`listening on ${where({ address, port })}. Talk to it from another terminal:`);
  console.log(`  nc -u ${host} ${port}`);
  console.log(`  socat - UDP:${host.includes(':') ? `[${host}]` : host}:${port}`);
  console.log('Each line you type is sent as one datagram; each datagram gets one reply. Quitting nc tells the server nothing.');
  console.log('Ctrl-C stops the server.\n');
  const signal = await stopped;

  console.log(`\nstopping (${signal}): closing the socket (UDP has no connections to finish)`);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  forgetStopSignal(force);
  console.log('server closed');
}

// Lesson 00 — what TCP is: the handshake the kernel does for you, the listen
// queue, the teardown and the states it leaves behind, FIN and RST.
// Run: npm run lesson 00        (or: npm run lesson 00 -- --serve)
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { finishConnection, listening, positiveInt, serve, type FlagSpec, type LessonOptions } from '../shared/cli.ts';
import { closed } from '../shared/read.ts';
import { SOCKET_EVENTS, Timeline } from '../shared/timeline.ts';

export const flags: Record<string, FlagSpec> = {
  idle: { type: 'string', hint: '<ms>', help: 'with --serve: quiet time after which the server ends a connection first (default 10000)' },
  'half-open': { type: 'boolean', help: "with --serve: never end the server's side after the client's FIN (the CLOSE-WAIT leak, on purpose)" },
  'wait-retry': { type: 'boolean', help: "wait for client C's second SYN, about 1 s later (default: stop C once the point is made)" },
};

// ── The server ────────────────────────────────────────────────────────────────

export interface EchoOptions {
  /** after this many ms without traffic the server ends the connection first (0: never) */
  idleMs?: number;
  /** never end our side after the client's FIN: the CLOSE-WAIT leak, on purpose */
  halfOpen?: boolean;
}

/** An echo server: every byte a client sends comes back. */
export function createEchoServer({ idleMs = 0, halfOpen = false }: EchoOptions = {}): net.Server {
  // allowHalfOpen: true means Node does not end our side when the client's FIN
  // arrives; only our own end() does. Forget it, and the socket stays in CLOSE-WAIT.
  return net.createServer({ allowHalfOpen: halfOpen }, (socket) => {
    // Without an 'error' listener a client that resets would crash the process.
    socket.on('error', () => {});
    // pipe() stops reading while the echo cannot be written (back-pressure);
    // `end` says whether the client's FIN also ends our side.
    socket.pipe(socket, { end: !halfOpen });
    if (idleMs > 0 && !halfOpen) {
      socket.setTimeout(idleMs);
      // After a quiet while the server sends the first FIN: its side will wait in TIME-WAIT.
      socket.once('timeout', () => finishConnection(socket));
    }
  });
}

// ── What the kernel says: ss (Linux) ──────────────────────────────────────────

/** One TCP socket as `ss -tano` shows it. */
export interface SocketState {
  /** LISTEN, SYN-SENT, ESTAB, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, LAST-ACK, TIME-WAIT, … */
  state: string;
  /** LISTEN: connections waiting for accept(); otherwise bytes not yet read */
  recvQ: number;
  /** LISTEN: the backlog; otherwise bytes not yet acknowledged */
  sendQ: number;
  localPort: number;
  /** 0 for a listening socket */
  peerPort: number;
  /** TIME-WAIT: seconds left before the kernel forgets the connection */
  timeWaitLeft?: number;
}

const run = promisify(execFile);

/** Why the kernel's view cannot be shown here, or undefined when `ss` works. */
export async function ssUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') {
    return `the states are read with ss, which is Linux-only (this is ${process.platform}): run netstat -an and look for the port`;
  }
  try {
    await run('ss', ['-V']);
    return undefined;
  } catch {
    return 'the states are read with ss, which is missing here: install iproute2';
  }
}

/** Every TCP socket with `port` at either end, as the kernel sees it; undefined without ss. */
export async function tcpStates(port: number): Promise<SocketState[] | undefined> {
  if (process.platform !== 'linux') return undefined;
  let stdout: string;
  try {
    ({ stdout } = await run('ss', ['-tanoH', `( sport = :${port} or dport = :${port} )`]));
  } catch {
    return undefined;
  }
  const states: SocketState[] = [];
  // "TIME-WAIT 0 0 127.0.0.1:39335 127.0.0.1:47372 timer:(timewait,59sec,0)"
  for (const line of stdout.split('\n')) {
    const m = /^(\S+)\s+(\d+)\s+(\d+)\s+\S*:(\d+)\s+\S*:(\d+|\*)(.*)$/.exec(line.trim());
    if (!m) continue;
    const timer = /timer:\(timewait,([^,]+),/.exec(m[6])?.[1];
    states.push({
      state: m[1],
      recvQ: Number(m[2]),
      sendQ: Number(m[3]),
      localPort: Number(m[4]),
      peerPort: m[5] === '*' ? 0 : Number(m[5]),
      timeWaitLeft: timer === undefined ? undefined : seconds(timer),
    });
  }
  return states;
}

/** ss prints a timer as "59sec", "1min", "1min2sec" or "812ms". */
function seconds(timer: string): number {
  const min = Number(/(\d+)min/.exec(timer)?.[1] ?? 0);
  const sec = Number(/(\d+)sec/.exec(timer)?.[1] ?? 0);
  const ms = Number(/(\d+)ms/.exec(timer)?.[1] ?? 0);
  return min * 60 + sec + ms / 1000;
}

/**
 * Ask ss again and again until `done(states)` holds (a state changes when a
 * segment arrives, e.g. a delayed ACK) or `tries` run out; returns the last answer.
 */
export async function statesWhen(port: number, done: (states: SocketState[]) => boolean, tries = 20): Promise<SocketState[] | undefined> {
  let states: SocketState[] | undefined;
  for (let i = 0; i < tries; i++) {
    states = await tcpStates(port);
    if (!states || done(states)) return states;
  }
  return states;
}

/** The state of one end of a connection: its own port, and the port at the other end. */
export function stateOf(states: SocketState[] | undefined, localPort: number, peerPort: number): SocketState | undefined {
  // Both ports: a port may also show TIME-WAITs of older connections with other peers.
  return states?.find((s) => s.localPort === localPort && s.peerPort === peerPort);
}

// ── A server whose event loop we block: it runs in a worker thread ───────────

/** What the busy server in its worker thread tells the main thread. */
export type BusyEvent =
  | { event: 'listening'; port: number }
  | { event: 'blocked'; at: number }
  | { event: 'free'; woken: string; at: number }
  | { event: 'connection'; from: number }
  | { event: 'data'; from: number; text: string }
  | { event: 'closed' };

const BUSY_ROLE = 'lesson 00: busy server';

/** Milliseconds on a clock that every thread of the process shares (each thread's performance.now() starts at 0). */
export function sharedClock(): number {
  return performance.timeOrigin + performance.now();
}
/** However the lesson goes, the worker's event loop is never blocked longer than this. */
export const MAX_BLOCK_MS = 5000;

/**
 * The echo server again, in a worker thread: a thread with an event loop of its
 * own. `block()` holds that loop still (as a long synchronous computation
 * would) until `release()`, while the main thread's clients keep running.
 */
export class BusyServer {
  port = 0;
  readonly events: BusyEvent[] = [];
  readonly #worker: Worker;
  readonly #wake = new Int32Array(new SharedArrayBuffer(4));
  readonly #waiters = new Set<() => void>();
  #failure?: Error;

  private constructor(host: string, backlog: number | undefined, onEvent: (event: BusyEvent) => void) {
    const require = createRequire(import.meta.url);
    // The worker loads this very file through tsx's require() hook.
    const boot = `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register();
require(${JSON.stringify(fileURLToPath(import.meta.url))});`;
    this.#worker = new Worker(boot, { eval: true, execArgv: [], workerData: { role: BUSY_ROLE, host, backlog, wake: this.#wake } });
    this.#worker.on('message', (event: BusyEvent) => {
      this.events.push(event);
      onEvent(event);
      this.#changed();
    });
    this.#worker.on('error', (err) => {
      this.#failure = err;
      this.#changed();
    });
  }

  /** Start the worker and its server; `backlog` undefined means Node's default. */
  static async start(host: string, backlog?: number, onEvent: (event: BusyEvent) => void = () => {}): Promise<BusyServer> {
    const busy = new BusyServer(host, backlog, onEvent);
    const listening = await busy.next((e) => e.event === 'listening');
    busy.port = (listening as { port: number }).port;
    return busy;
  }

  /** The first event, past or future, that `match` accepts. */
  next(match: (event: BusyEvent) => boolean): Promise<BusyEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.find(match);
        if (found) resolve(found);
        else if (this.#failure) reject(this.#failure);
        else return;
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  #changed(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Block the server's event loop; resolves once it is blocked. */
  async block(): Promise<void> {
    this.#worker.postMessage('block');
    await this.next((e) => e.event === 'blocked');
  }

  /** Let the server's event loop run again. */
  release(): void {
    Atomics.store(this.#wake, 0, 1);
    Atomics.notify(this.#wake, 0);
  }

  /** Close the server (once its connections are gone) and stop the worker. */
  async close(): Promise<void> {
    this.release();
    if (!this.#failure) {
      this.#worker.postMessage('close');
      await this.next((e) => e.event === 'closed');
    }
    await this.#worker.terminate();
  }
}

/** The worker's side: the echo server, reporting what it does. */
function runBusyServer(host: string, backlog: number | undefined, wake: Int32Array): void {
  const toMain = parentPort!;
  const report = (event: BusyEvent) => toMain.postMessage(event);
  const server = createEchoServer();
  server.on('connection', (socket) => {
    const from = socket.remotePort ?? 0;
    report({ event: 'connection', from });
    socket.on('data', (chunk: Buffer) => report({ event: 'data', from, text: chunk.toString('utf8', 0, 64) }));
  });
  server.listen({ port: 0, host, backlog }, () => report({ event: 'listening', port: (server.address() as net.AddressInfo).port }));
  toMain.on('message', (message: string) => {
    if (message === 'block') {
      report({ event: 'blocked', at: sharedClock() });
      // Nothing else runs on this thread until this returns: no 'connection', no 'data'.
      const woken = Atomics.wait(wake, 0, 0, MAX_BLOCK_MS);
      report({ event: 'free', woken, at: sharedClock() });
    } else if (message === 'close') {
      server.close(() => report({ event: 'closed' }));
    }
  });
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === BUSY_ROLE) {
  const { host, backlog, wake } = workerData as { host: string; backlog?: number; wake: Int32Array };
  runBusyServer(host, backlog, wake);
}

// ── The lesson ────────────────────────────────────────────────────────────────

/** The listen queue of part 1: one waiting connection more than this fits (Linux). */
export const DEMO_BACKLOG = 1;

/** A client with a label, drawn in the timeline: its connect() is the SYN. */
function client(timeline: Timeline, label: string, port: number, host: string): net.Socket {
  const socket = net.connect(port, host);
  timeline.add('client', `${label} connect()`, 'SYN', true);
  timeline.watch(socket, 'client', ['connect', 'data', 'end', 'error', 'close'], label);
  socket.on('error', () => {}); // recorded by the timeline; never a crash
  socket.resume(); // read whatever arrives, so that the peer's FIN is seen too
  return socket;
}

function kernelRow(timeline: Timeline, side: 'client' | 'server', what: string): void {
  timeline.add(side, 'kernel:', what);
}

/** Part 1: clients connect to a server whose event loop is blocked. */
export async function handshake(host: string, waitRetry: boolean): Promise<{ timeline: Timeline; lines: string[] }> {
  const labels = new Map<number, string>();
  const who = (port: number) => labels.get(port) ?? `:${port}`;
  let timeline: Timeline | undefined;
  const busy = await BusyServer.start(host, DEMO_BACKLOG, (e) => {
    if (!timeline) return;
    if (e.event === 'blocked') timeline.server('busy', 'event loop blocked');
    if (e.event === 'free') timeline.server('free', 'event loop runs again');
    if (e.event === 'connection') timeline.server('connection', `from ${who(e.from)}`);
    if (e.event === 'data') timeline.server(`${who(e.from)} data`, JSON.stringify(e.text));
  });
  timeline = new Timeline();
  timeline.server('listening', `backlog ${DEMO_BACKLOG}, worker thread`);
  const lines: string[] = [];
  await busy.block();

  // A and B: the kernel answers their SYN with SYN-ACK and queues them: 'connect' fires.
  const sockets: net.Socket[] = [];
  for (const label of ['A', 'B']) {
    const socket = client(timeline, label, busy.port, host);
    sockets.push(socket);
    await once(socket, 'connect');
    labels.set(socket.localPort!, label);
    socket.write(`hello from ${label}\n`); // the kernel takes these bytes too
  }
  // C: the queue holds backlog + 1 connections, so Linux drops C's SYN.
  const c = client(timeline, 'C', busy.port, host);
  sockets.push(c);
  const states = await statesWhen(busy.port, (all) => stateOf(all, c.localPort ?? -1, busy.port)?.state === 'SYN-SENT', 20);
  if (c.localPort) labels.set(c.localPort, 'C');
  if (states) {
    const listener = states.find((s) => s.state === 'LISTEN');
    if (listener) kernelRow(timeline, 'server', `${listener.recvQ} queued, backlog ${listener.sendQ}`);
    // Our three clients only: the port may also show TIME-WAITs of older connections.
    for (const s of states.filter((s) => s.peerPort === busy.port && labels.has(s.localPort))) {
      kernelRow(timeline, 'client', `${labels.get(s.localPort)} ${s.state}`);
    }
  }

  busy.release();
  // Now the loop runs: it accepts A and B, reads their bytes and echoes them.
  for (const socket of sockets.slice(0, 2)) {
    await busy.next((e) => e.event === 'data' && e.from === socket.localPort);
  }
  if (waitRetry && c.connecting) await new Promise((resolve) => c.once('connect', resolve).once('close', resolve));
  const started = timeline.events.find((e) => e.name === 'C connect()')!.ms;
  const connected = timeline.events.find((e) => e.name === 'C connect');
  if (c.connecting) {
    lines.push('C is still in SYN-SENT: its SYN was dropped, and its kernel sends it again after about 1 s. Add -- --wait-retry to watch it connect.');
  } else if (connected) {
    const after = connected.ms - started;
    lines.push(`C connected ${after.toFixed(0)} ms after its connect()${after > 500 ? ': its first SYN was dropped, the second one got through' : ''}.`);
  } else {
    lines.push(`C did not connect: ${(c.errored as NodeJS.ErrnoException | null)?.code ?? 'closed'}.`);
  }
  for (const socket of sockets) {
    if (!socket.connecting) socket.end();
    else {
      timeline.client('C destroy()', 'stops waiting');
      socket.destroy();
    }
  }
  await Promise.all(sockets.map((socket) => closed(socket)));
  await busy.close();
  const connect = timeline.events.find((e) => e.name === 'A connect')!;
  const accepted = timeline.events.find((e) => e.name === 'connection')!;
  lines.unshift(
    `A's 'connect' came at ${connect.ms.toFixed(1)} ms; the server's 'connection' for A at ${accepted.ms.toFixed(1)} ms, once its loop ran again.`,
  );
  return { timeline, lines };
}

/** Part 2: who sends the first FIN waits in TIME-WAIT; then the server restarts on its port. */
export async function teardown(server: net.Server, port: number, host: string): Promise<{ timeline: Timeline; lines: string[] }> {
  const timeline = new Timeline();
  const accepted = () =>
    new Promise<net.Socket>((resolve) =>
      server.prependOnceListener('connection', (socket: net.Socket) => {
        timeline.watch(socket, 'server', ['end', 'close']);
        resolve(socket);
      }),
    );

  // The client closes first.
  let serverSide = accepted();
  const a = client(timeline, 'A', port, host);
  await once(a, 'connect');
  const aPort = a.localPort!; // read it now: a closed socket no longer knows its port
  a.end(); // our FIN: "I have nothing more to send"
  await Promise.all([closed(a), closed(await serverSide)]);
  const aState = stateOf(await statesWhen(port, (all) => stateOf(all, aPort, port)?.state === 'TIME-WAIT'), aPort, port);
  if (aState) kernelRow(timeline, 'client', `A ${aState.state}, ${aState.timeWaitLeft} s left`);

  // The server closes first.
  serverSide = accepted();
  const b = client(timeline, 'B', port, host);
  await once(b, 'connect');
  const bPort = b.localPort!;
  (await serverSide).end(); // this time the server's FIN comes first
  await Promise.all([closed(b), closed(await serverSide)]);
  const bState = stateOf(await statesWhen(port, (all) => stateOf(all, port, bPort)?.state === 'TIME-WAIT'), port, bPort);
  if (bState) kernelRow(timeline, 'server', `B's ${bState.state}, ${bState.timeWaitLeft} s left`);

  // Restart on the same port while those connections still wait in TIME-WAIT.
  server.close();
  await once(server, 'close');
  server.listen(port, host);
  let restart = `The server listened on port ${port} again at once, TIME-WAIT or not: Node (libuv) sets SO_REUSEADDR.`;
  try {
    await listening(server);
  } catch {
    // Another program on this machine took the port in the moment it was free (rare, on a busy
    // machine): that is not TIME-WAIT. Go on, on a new port.
    restart = `Another program took port ${port} in the moment between close() and listen() (run the lesson again to see the restart).`;
    server.listen(0, host);
    await listening(server);
  }
  const waiting = (await tcpStates(port))?.filter((s) => s.state === 'TIME-WAIT' && s.localPort === port).length;
  timeline.server('listening', `again${waiting === undefined ? '' : `, ${waiting} TIME-WAIT`}`);
  return {
    timeline,
    lines: [
      `A sent the first FIN: its side (port ${aPort}) waits in TIME-WAIT${aState ? `, ${aState.timeWaitLeft} s left` : ''}.`,
      `With B the server sent the first FIN: the TIME-WAIT is on the server's side (port ${port}).`,
      restart,
    ],
  };
}

/** Part 3: a server that never ends its side after the client's FIN: CLOSE-WAIT. */
export async function closeWait(host: string): Promise<{ timeline: Timeline; lines: string[] }> {
  const timeline = new Timeline();
  const server = createEchoServer({ halfOpen: true });
  const accepted = new Promise<net.Socket>((resolve) =>
    server.prependOnceListener('connection', (socket: net.Socket) => {
      timeline.watch(socket, 'server', ['end', 'close']);
      resolve(socket);
    }),
  );
  server.listen(0, host);
  const { port } = await listening(server);
  const a = client(timeline, 'A', port, host);
  await once(a, 'connect');
  const aPort = a.localPort!;
  const serverSide = await accepted;
  a.end();
  await once(serverSide, 'end');
  // A's side leaves FIN-WAIT-1 once its FIN is acknowledged (that ACK may be delayed).
  const leaking = await statesWhen(port, (all) => stateOf(all, aPort, port)?.state === 'FIN-WAIT-2');
  const ours = stateOf(leaking, port, aPort);
  const theirs = stateOf(leaking, aPort, port);
  if (ours) kernelRow(timeline, 'server', ours.state);
  if (theirs) kernelRow(timeline, 'client', `A ${theirs.state}`);
  serverSide.end(); // the fix: end our side too
  await Promise.all([closed(a), closed(serverSide)]);
  const last = stateOf(await statesWhen(port, (all) => stateOf(all, aPort, port)?.state === 'TIME-WAIT'), aPort, port);
  if (last) kernelRow(timeline, 'client', `A ${last.state}`);
  server.close();
  await once(server, 'close');
  return {
    timeline,
    lines: [
      `Until the server called end(), its side sat in ${ours?.state ?? 'CLOSE-WAIT'} and A's in ${theirs?.state ?? 'FIN-WAIT-2'}: nothing times that out.`,
    ],
  };
}

/** Part 4: RST instead of FIN — a reset connection and a refused one. */
export async function resets(host: string): Promise<{ timeline: Timeline; lines: string[] }> {
  const timeline = new Timeline();
  const server = createEchoServer();
  const accepted = new Promise<net.Socket>((resolve) =>
    server.prependOnceListener('connection', (socket: net.Socket) => {
      timeline.watch(socket, 'server', ['close']);
      resolve(socket);
    }),
  );
  server.listen(0, host);
  const { port } = await listening(server);
  const a = client(timeline, 'A', port, host);
  const errors = new Map<net.Socket, NodeJS.ErrnoException>();
  a.once('error', (err) => errors.set(a, err));
  await once(a, 'connect');
  const aPort = a.localPort!;
  a.write('hi\n');
  await once(a, 'data'); // the echo
  timeline.add('server', 'resetAndDestroy()', 'RST', true);
  (await accepted).resetAndDestroy();
  await closed(a);
  const left = (await tcpStates(port))?.filter((s) => s.localPort === aPort || s.peerPort === aPort);
  if (left) kernelRow(timeline, 'client', left.length > 0 ? left.map((s) => s.state).join(', ') : 'no TIME-WAIT');
  server.close();
  await once(server, 'close');

  // Now nothing listens on that port: the kernel answers B's SYN with RST.
  const b = client(timeline, 'B', port, host);
  b.once('error', (err) => errors.set(b, err));
  await closed(b);
  const describe = (err?: NodeJS.ErrnoException) => (err ? `${err.constructor.name} ${err.code}, message ${JSON.stringify(err.message)}` : 'no error');
  return {
    timeline,
    lines: [
      `A: ${describe(errors.get(a))}. No 'end': the data stopped without a FIN.`,
      `B: ${describe(errors.get(b))}. Always read err.code: connecting to a name with several addresses gives an AggregateError whose message is empty.`,
    ],
  };
}

function print(title: string, part: { timeline: Timeline; lines: string[] }): void {
  console.log(`${title}\n`);
  console.log(part.timeline.render());
  console.log();
  for (const line of part.lines) console.log(line);
  console.log();
}

export async function main(opts: LessonOptions): Promise<void> {
  const idleMs = positiveInt('idle', opts.extra.idle, 10_000, 600_000);
  const halfOpen = opts.extra['half-open'] === true;

  if (opts.serve) {
    const server = createEchoServer({ idleMs, halfOpen });
    // One live timeline per connection, each line tagged with the client's port.
    server.prependListener('connection', (socket: net.Socket) => {
      const tag = `[${socket.remotePort}]`;
      const live = new Timeline({ live: true, print: (line) => console.log(`${tag} ${line}`) });
      live.server('connection', `from ${socket.remoteAddress}:${socket.remotePort}`);
      live.watch(socket, 'server', SOCKET_EVENTS);
    });
    const note = (host: string, port: number) =>
      [
        'Everything you type comes back. Watch the connection\'s state from a third terminal:',
        process.platform === 'linux'
          ? `  ss -tano '( sport = :${port} or dport = :${port} )'`
          : `  netstat -an | grep ${port}        (Windows: netstat -an | findstr ${port})`,
        'Close nc (Ctrl-C): your side sent the first FIN, so its port waits in TIME-WAIT for a minute.',
        halfOpen
          ? "--half-open: the server never ends its side. With nc -N, press Ctrl-D: the server sits in CLOSE-WAIT, nc in FIN-WAIT-2."
          : `Stay quiet for ${idleMs} ms: the server ends first, and the TIME-WAIT is on its side (port ${port}).`,
      ].join('\n');
    return serve(server, opts, { note });
  }

  const missing = await ssUnavailable();
  const server = createEchoServer();
  server.listen(opts.port, opts.host);
  const { address, port } = await listening(server);

  print(
    `1 · The handshake is the kernel's work. The server's event loop is blocked; A, B and C connect (listen backlog ${DEMO_BACKLOG}).`,
    await handshake(address, opts.extra['wait-retry'] === true),
  );
  print('2 · Teardown: FIN, FIN. Whoever sends the first FIN waits in TIME-WAIT.', await teardown(server, port, address));
  server.close();
  await once(server, 'close');
  print("3 · CLOSE-WAIT: a server with allowHalfOpen that does not end its side after the client's FIN.", await closeWait(address));
  print('4 · RST: resetAndDestroy() resets a connection; a port with nobody listening refuses one.', await resets(address));
  if (missing) console.log(`(No kernel rows: ${missing}.)`);
}

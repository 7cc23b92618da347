// `npm run stress <id> [-- --rounds 3 --lines 1000000 --mib 64]`: put a
// lesson's `--serve` server under load and abuse, from another process, and
// measure what it costs the server:
//
//   1. rounds of one-character lines (for lesson 08's server, as many bytes of
//      pipelined requests) from a client that reads every reply;
//   2. a client that sends up to 64 MiB and never reads;
//   3. a new client afterwards: the server must still answer;
//   4. Ctrl-C, SIGTERM, and SIGTERM to the process group, each in the middle of
//      a transfer: the server prints its stopping line, exits 0, and the client
//      gets a FIN, not a reset.
//
// The server's memory is read from /proc (Linux) or `ps` (elsewhere). Every
// server the workbook runs must grow by less than LIMIT_MB through all of it,
// and not grow round after round (see LIMIT_MB for why both).
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { findLesson, LESSONS, type Lesson } from '../lessons/catalog.ts';
import { DEFAULT_HOST, UsageError, positiveInt } from '../lessons/shared/cli.ts';
import { ROOT, parseCommand } from './lib/exercises.ts';
import { report } from './lib/report.ts';

const USAGE = 'npm run stress <lesson> [-- --rounds <n> --lines <n> --mib <n>]   e.g. npm run stress 01';
const MiB = 1024 * 1024;
/**
 * What "bounded" means here. V8 sizes its heap to the allocation rate: a server that answers
 * a million small messages quickly gets a larger young generation (on 64-bit Node up to 2 × 16 MB
 * of semi-spaces, measured as heapTotal going from 10 to 42 MB while heapUsed stays under 20 MB),
 * once, in the first round. So the whole run may add at most LIMIT_MB, and each round after the
 * first at most ROUND_LIMIT_MB more than the first: state kept per message would grow every round.
 */
const LIMIT_MB = 64;
const ROUND_LIMIT_MB = 10;
/** A client that makes no progress for this long is stalled: the server stopped reading. */
const STALL_MS = 1000;

/** A lesson's --serve server, running in a process group of its own. */
class Server {
  readonly child: ChildProcessWithoutNullStreams;
  output = '';
  readonly exited: Promise<number | null>;
  port = 0;

  constructor(lesson: Lesson) {
    // Started as npm run lesson starts it.
    this.child = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(ROOT, 'scripts', 'bin', 'lesson.ts'), lesson.id, '--serve'], {
      cwd: ROOT,
      detached: true,
      env: { ...process.env, NO_COLOR: '1' },
    });
    this.child.stdout.setEncoding('utf8');
    // Keep only the start and the end of what it prints: its live log is long.
    this.child.stdout.on('data', (text: string) => {
      this.output = this.output.length < 4096 ? this.output + text : this.output.slice(0, 2048) + this.output.slice(-2048) + text;
      if (this.output.length > 8192) this.output = this.output.slice(0, 4096) + this.output.slice(-4096);
    });
    this.child.stderr.resume();
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  async ready(): Promise<void> {
    const started = Date.now();
    let exited = false;
    void this.exited.then(() => (exited = true));
    while (!/Ctrl-C stops the server/.test(this.output)) {
      if (exited) throw new Error(`the server exited (${this.child.exitCode}) before it listened`);
      if (Date.now() - started > 20_000) throw new Error('the server printed no banner within 20 s');
      // More output, or its end: a server that dies prints nothing more, and must not leave us waiting.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([once(this.child.stdout, 'data'), this.exited, new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
      clearTimeout(timer);
    }
    this.port = Number(/listening on \S+:(\d+)\./.exec(this.output)?.[1]);
  }

  /** Resident memory in MB. */
  rss(): number {
    const pid = this.child.pid!;
    if (process.platform === 'linux') {
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      return Number(kb) / 1024;
    }
    return Number(spawnSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim()) / 1024;
  }

  /** A UDP lesson (07) prints `nc -u`: it gets datagrams instead of a stream. */
  get udp(): boolean {
    return /nc -u /.test(this.output);
  }

  stop(how: Stop): void {
    if (how === 'SIGTERM to the group') process.kill(-this.child.pid!, 'SIGTERM');
    else this.child.kill(how);
  }
}

type Stop = 'SIGINT' | 'SIGTERM' | 'SIGTERM to the group';

/**
 * How to talk to a server. Most lesson servers read raw lines. Lesson 08's is
 * an http server (its banner says curl http://…) and lesson 09's an https
 * server (its banner names the CA file of the run, --cacert): the same loads
 * go in as request bodies, over TLS for 09.
 */
interface Dialect {
  /** http(s): stopped with one request after another, not a stream of lines */
  http: boolean;
  connect(port: number): Promise<net.Socket>;
  /** what goes before `bytes` bytes of load */
  head(bytes: number): string;
  /** the load, repeated: a one-character line, or a whole request */
  unit: string;
  /** a request that gets an answer */
  hello: string;
}

const plain: Dialect = {
  http: false,
  connect: (port) => connected(net.connect(port, DEFAULT_HOST), 'connect'),
  head: () => '',
  unit: 'x\n',
  hello: 'hello\n',
};
let dialect = plain;

function dialectOf(server: Server): Dialect {
  const caFile = /--cacert (\S+)/.exec(server.output)?.[1];
  if (!caFile && /curl .*http:\/\//.test(server.output)) {
    // Lesson 08's server refuses a body over 64 KiB: the load is pipelined requests, each answered.
    return {
      http: true,
      connect: (port) => connected(net.connect(port, DEFAULT_HOST), 'connect'),
      head: () => '',
      unit: 'GET /hello HTTP/1.1\r\nHost: x\r\n\r\n',
      hello: 'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
    };
  }
  if (!caFile) return plain;
  const ca = readFileSync(caFile);
  return {
    http: true,
    connect: (port) => connected(tls.connect({ port, host: DEFAULT_HOST, servername: 'localhost', ca }), 'secureConnect'),
    head: (bytes) => `POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${bytes}\r\n\r\n`,
    unit: 'x\n',
    hello: 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n',
  };
}

function connected(socket: net.Socket, event: 'connect' | 'secureConnect'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    socket.once(event, () => resolve(socket));
    socket.once('error', reject);
  });
}

function connect(port: number): Promise<net.Socket> {
  return dialect.connect(port);
}

/** Write `total` bytes of one-character lines as fast as `socket` takes them; stop early on `stop()`. */
async function sendLines(socket: net.Socket, total: number, stop: () => boolean = () => false, onProgress?: (sent: number) => void): Promise<number> {
  const chunk = Buffer.from(dialect.unit.repeat(Math.ceil((64 * 1024) / dialect.unit.length)));
  let sent = 0;
  while (sent < total && !stop() && !socket.destroyed && socket.writable) {
    const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
    sent += piece.length;
    onProgress?.(sent);
    // Yield a turn after each write: this client must read while it writes.
    await new Promise((resolve) => setImmediate(resolve));
    if (!socket.write(piece)) {
      const drained = await Promise.race([
        once(socket, 'drain').then(() => true, () => false),
        once(socket, 'close').then(() => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), STALL_MS).unref()),
      ]);
      if (!drained) break;
    }
  }
  return sent;
}

/** One round: `lines` one-character lines from a client that reads every reply, then ends. */
async function round(port: number, lines: number): Promise<{ received: number }> {
  const socket = await connect(port);
  let received = 0;
  socket.on('data', (chunk: Buffer) => (received += chunk.length));
  socket.on('error', () => {});
  const closed = once(socket, 'close');
  socket.write(dialect.head(lines * 2));
  await sendLines(socket, lines * 2);
  socket.end();
  await closed;
  return { received };
}

/** A client that sends up to `bytes` and never reads; resolves with how far it got once it stalls. */
async function neverReads(port: number, bytes: number): Promise<{ sent: number; socket: net.Socket }> {
  const socket = await connect(port);
  socket.on('error', () => {});
  socket.pause();
  socket.write(dialect.head(bytes));
  const sent = await sendLines(socket, bytes);
  return { sent, socket };
}

/**
 * A new client: connect, send a line and end its side (lesson 03's server
 * answers after the FIN), and get any reply within 5 s.
 */
async function answers(port: number): Promise<boolean> {
  try {
    const socket = await connect(port);
    socket.on('error', () => {});
    socket.end(dialect.hello);
    const got = await Promise.race([once(socket, 'data').then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000).unref())]);
    socket.destroy();
    return got;
  } catch {
    return false;
  }
}

// ── UDP (lesson 07): datagrams instead of a stream, no connection, no FIN ──

function udpClient(port: number): dgram.Socket {
  const socket = dgram.createSocket('udp4');
  socket.on('error', () => {}); // ICMP port unreachable once the server is gone
  socket.connect(port, DEFAULT_HOST);
  return socket;
}

/** Send `count` datagrams of `size` bytes, in batches; `read`: take the replies too (and drop them). */
async function datagrams(port: number, count: number, size: number, read = true, stop: () => boolean = () => false, onProgress?: (sent: number) => void): Promise<void> {
  const socket = udpClient(port);
  await once(socket, 'connect');
  if (read) socket.on('message', () => {});
  const payload = Buffer.alloc(size, 'x');
  for (let i = 0; i < count && !stop(); i += 1) {
    onProgress?.(i * size);
    // UDP has no back-pressure: the sender paces itself, waiting for every 64th datagram to leave.
    if (i % 64 === 63) await new Promise<void>((resolve) => socket.send(payload, () => resolve()));
    else socket.send(payload);
  }
  socket.close();
}

/** A new UDP client: like any UDP client, it asks again when no answer comes (every 200 ms, for 5 s). */
async function udpAnswers(port: number): Promise<boolean> {
  const socket = udpClient(port);
  await once(socket, 'connect');
  const again = setInterval(() => socket.send('hello\n'), 200);
  socket.send('hello\n');
  const got = await Promise.race([once(socket, 'message').then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000).unref())]);
  clearInterval(again);
  socket.close();
  return got;
}

/** Stop a fresh server with `how` in the middle of a transfer of `bytes`. */
async function stopDuringTransfer(lesson: Lesson, how: Stop, bytes: number): Promise<string> {
  const server = new Server(lesson);
  await server.ready();
  if (server.udp) {
    let signalled = false;
    await datagrams(server.port, Math.ceil(bytes / 1024), 1024, true, () => server.child.exitCode !== null, (sent) => {
      if (!signalled && sent >= bytes / 8) {
        signalled = true;
        server.stop(how);
      }
    });
    if (!signalled) server.stop(how);
    const code = await server.exited;
    const stopping = /stopping/.test(server.output) && /server closed/.test(server.output);
    return code === 0 && stopping ? 'ok: stopping line, exit 0 (UDP: no connection to finish)' : `FAILED: exit code ${code}${stopping ? '' : ', no stopping line'}`;
  }
  dialect = dialectOf(server);
  const socket = await connect(server.port);
  const errors: string[] = [];
  socket.on('error', (err: NodeJS.ErrnoException) => errors.push(err.code ?? err.message));
  let fin = false;
  socket.on('end', () => (fin = true));
  socket.resume();
  let signalled = false;
  if (dialect.http) {
    // http: one request after another on a kept-alive connection (Node's http server resets
    // a client that floods it with pipelined requests, whatever happens at a stop).
    let answered = () => {};
    socket.on('data', () => answered());
    socket.on('close', () => answered());
    for (let i = 0; !fin && !socket.destroyed; i += 1) {
      if (i === 20) (signalled = true), server.stop(how);
      socket.write(dialect.hello);
      await new Promise<void>((resolve) => (answered = resolve));
    }
  } else {
    await sendLines(socket, bytes, () => fin, (sent) => {
      if (!signalled && sent >= bytes / 8) {
        signalled = true;
        server.stop(how);
      }
    });
  }
  if (!signalled) server.stop(how);
  if (!socket.destroyed) await once(socket, 'close');
  const code = await server.exited;
  const stopping = /stopping/.test(server.output) && /server closed/.test(server.output);
  const problems = [
    code === 0 ? '' : `exit code ${code}`,
    stopping ? '' : 'no stopping line',
    fin ? '' : 'no FIN',
    errors.length === 0 ? '' : `client error ${errors.join(', ')}`,
  ].filter(Boolean);
  return problems.length === 0 ? 'ok: stopping line, exit 0, FIN' : `FAILED: ${problems.join('; ')}`;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, { rounds: { type: 'string' }, lines: { type: 'string' }, mib: { type: 'string' } }, USAGE);
  if (values.help) {
    console.log(`${USAGE}\n\nStarts a lesson's --serve server and measures it from outside: rounds of one-character lines, a client that never reads, a new client, and three ways to stop it.`);
    return 0;
  }
  const lesson = positionals[0] === undefined ? undefined : findLesson(positionals[0]);
  if (!lesson) throw new UsageError(`name a lesson (${LESSONS.map((l) => l.id).join(', ')}) — usage: ${USAGE}`);
  const rounds = positiveInt('rounds', values.rounds, 3, 100);
  const lines = positiveInt('lines', values.lines, 1_000_000, 100_000_000);
  const mib = positiveInt('mib', values.mib, 64, 4096);

  console.log(`Stressing lesson ${lesson.id} (${lesson.title}) --serve, Node ${process.version}, ${process.platform}:`);
  const server = new Server(lesson);
  let ok = true;
  try {
    await server.ready();
    dialect = dialectOf(server);
    const udp = server.udp;
    // Warm up: the first requests compile code.
    if (udp) await datagrams(server.port, 10_000, 1);
    else await round(server.port, 10_000);
    const base = server.rss();
    console.log(`  started, after a warm-up       ${base.toFixed(1)} MB`);
    let peak = base;
    const afterRound: number[] = [];
    for (let i = 1; i <= rounds; i += 1) {
      const started = performance.now();
      if (udp) {
        await datagrams(server.port, lines, 1);
        const rss = server.rss();
        peak = Math.max(peak, rss);
        afterRound.push(rss);
        console.log(`  round ${i}: ${lines} datagrams of 1 B ${rss.toFixed(1)} MB  (sent in ${((performance.now() - started) / 1000).toFixed(1)} s)`);
        continue;
      }
      const { received } = await round(server.port, lines);
      const rss = server.rss();
      peak = Math.max(peak, rss);
      afterRound.push(rss);
      // The same bytes for every dialect: 2 per line, or whole pipelined requests.
      const what = dialect.unit === plain.unit ? `${lines} lines        ` : `${Math.floor((lines * 2) / dialect.unit.length)} requests`;
      console.log(`  round ${i}: ${what} ${rss.toFixed(1)} MB  (${(received / MiB).toFixed(1)} MiB of replies read, ${((performance.now() - started) / 1000).toFixed(1)} s)`);
    }
    if (udp) {
      await datagrams(server.port, Math.ceil((mib * MiB) / 65507), 65507, false);
      const after = server.rss();
      peak = Math.max(peak, after);
      console.log(`  ${mib} MiB of 65507-byte datagrams, replies never read  ${after.toFixed(1)} MB`);
    } else {
      const greedy = await neverReads(server.port, mib * MiB);
      const stalled = server.rss();
      peak = Math.max(peak, stalled);
      console.log(`  a client that never reads      ${stalled.toFixed(1)} MB  (it could send ${(greedy.sent / MiB).toFixed(1)} of ${mib} MiB before the server stopped reading)`);
      greedy.socket.destroy();
    }
    const fresh = udp ? await udpAnswers(server.port) : await answers(server.port);
    const growth = peak - base;
    const perRound = Math.max(0, ...afterRound.map((rss) => rss - afterRound[0]));
    const bounded = growth < LIMIT_MB && perRound < ROUND_LIMIT_MB;
    console.log(`  grew by at most               ${growth.toFixed(1)} MB  ${growth < LIMIT_MB ? `ok (< ${LIMIT_MB} MB)` : `FAILED (limit ${LIMIT_MB} MB)`}`);
    console.log(`  later rounds, beyond round 1  ${perRound.toFixed(1)} MB  ${perRound < ROUND_LIMIT_MB ? `ok (< ${ROUND_LIMIT_MB} MB)` : `FAILED (limit ${ROUND_LIMIT_MB} MB): it grows with every round`}`);
    console.log(`  a new client afterwards        ${fresh ? 'answered: ok' : 'FAILED: no answer'}`);
    ok = bounded && fresh;
  } finally {
    server.stop('SIGINT');
    await server.exited;
  }
  for (const how of ['SIGINT', 'SIGTERM', 'SIGTERM to the group'] as const) {
    const verdict = await stopDuringTransfer(lesson, how, mib * MiB);
    console.log(`  ${`${how} during a ${mib} MiB transfer`.padEnd(40)} ${verdict}`);
    ok &&= verdict.startsWith('ok');
  }
  return ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => (process.exitCode = report(err, 'stress')),
);

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { describe, test, type TestContext } from 'node:test';
import { UsageError, finishConnection, usage } from '../shared/cli.ts';
import { closed, readAll, readUntil } from '../shared/read.ts';
import { HOST, ONE_READ, connect, listen, mustCall, mustNotCall, nextConnection, onCleanup, refusedPort, sendWithoutReading } from '../shared/testing.ts';
import { Timeline, type Side } from '../shared/timeline.ts';
import { has, runScript, start } from '../../test/processes.ts';
import {
  IDLE_NOTE, MAX_IDLE_MS, MAX_REQUEST, TOO_LONG, connectRefused, createRequestServer, exchange, flags, idleThenAsk, main, reply,
  resetMidRequest, writeWhileConnecting,
} from './lesson.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const MAJOR = Number(process.versions.node.split('.')[0]);
/** One read from the kernel is at most this much (libuv's read buffer). */

/** Listen on port 0, connect a client, and return both ends of the connection. */
async function connected(t: TestContext, server: net.Server): Promise<{ client: net.Socket; socket: net.Socket }> {
  const accepted = nextConnection(server);
  const client = await connect(t, await listen(t, server));
  return { client, socket: await accepted };
}

/** Event names of one side, with runs of 'data' folded into one (their number is up to TCP). */
function sequence(timeline: Timeline, side: Side): string[] {
  return timeline.names(side).filter((name, i, all) => !(name === 'data' && all[i - 1] === 'data'));
}

/** Position of the first event of `side` called `name` in the whole timeline. */
function position(timeline: Timeline, side: Side, name: string): number {
  const i = timeline.events.findIndex((e) => e.side === side && e.name === name);
  assert.notEqual(i, -1, `no ${side} ${name} in the timeline`);
  return i;
}

/** A lesson server plus a timeline that records its side of every connection. */
async function watchedServer(t: TestContext, timeline: Timeline) {
  const server = createRequestServer();
  let serverClosed: Promise<boolean> = Promise.resolve(false);
  server.prependListener('connection', (socket) => {
    timeline.watch(socket, 'server');
    serverClosed = closed(socket);
  });
  const port = await listen(t, server);
  return { server, port, serverClosed: () => serverClosed };
}

/** The events a server socket goes through, in order, as short strings ('data' folded). */
function record(socket: net.Socket): string[] {
  const events: string[] = [];
  socket.on('data', () => events.at(-1) !== 'data' && events.push('data'));
  socket.on('end', () => events.push('end'));
  socket.on('error', (err: NodeJS.ErrnoException) => events.push(`error ${err.code}`));
  socket.on('close', (hadError: boolean) => events.push(`close ${hadError}`));
  return events;
}

/** Resolves once `socket` has emitted 'data' (this listener makes it flow); never rejects. */
function firstData(socket: net.Socket): Promise<unknown> {
  return new Promise((resolve) => socket.once('data', resolve));
}

/** The kernel's keep-alive timer of the connection local → remote, in ms, from `ss -to`; null if none. */
function keepAliveTimer(localPort: number, remotePort: number): number | null {
  const out = spawnSync('ss', ['-tnoH', 'state', 'established', `( sport = :${localPort} and dport = :${remotePort} )`], { encoding: 'utf8' }).stdout;
  const m = /timer:\(keepalive,([^,]+),/.exec(out);
  if (!m) return null;
  // ss prints e.g. 119min, 59sec, 4.988ms (4 s 988 ms) or 976ms.
  const parts = /^(?:(\d+)min)?(?:(\d+)(?:sec|\.))?(?:(\d+)ms)?$/.exec(m[1]);
  assert.ok(parts, `cannot read the timer ${m[1]}`);
  return Number(parts[1] ?? 0) * 60_000 + Number(parts[2] ?? 0) * 1000 + Number(parts[3] ?? 0);
}

function ssSkip(): string | false {
  if (process.platform !== 'linux') return 'reads the kernel timer with ss, which is Linux only';
  if (!has('ss')) return 'ss is not installed (apt-get install iproute2)';
  return false;
}

describe('lesson 03', { concurrency: true, timeout: 20_000 }, () => {
  // ── 'connect', 'data', 'end', 'finish' ─────────────────────────────────────

  test("'connect' and 'ready' fire once on the client and never on the socket the server accepted", async (t) => {
    let serverSide!: Promise<boolean>;
    const server = net.createServer((socket) => {
      socket.on('connect', mustNotCall("'connect' on the accepted socket"));
      socket.on('ready', mustNotCall("'ready' on the accepted socket"));
      serverSide = closed(socket);
      socket.end('hi');
    });
    const port = await listen(t, server);
    const client = net.connect(port, HOST);
    onCleanup(t, () => client.destroy());
    const order: string[] = [];
    client.on('connect', mustCall(t, () => order.push('connect')));
    client.on('ready', mustCall(t, () => order.push('ready')));
    assert.equal((await readAll(client)).toString(), 'hi');
    await serverSide; // once the accepted socket is closed, it can emit nothing more
    assert.deepEqual(order, ['connect', 'ready']);
  });

  test("'data' delivers Buffers by default", async (t) => {
    const server = net.createServer((socket) => socket.end('héllo'));
    const client = await connect(t, await listen(t, server));
    const chunks: unknown[] = [];
    client.on('data', (chunk: unknown) => chunks.push(chunk));
    await once(client, 'end');
    assert.ok(chunks.length > 0);
    assert.ok(chunks.every((chunk) => Buffer.isBuffer(chunk)), 'every chunk is a Buffer');
    assert.equal(Buffer.concat(chunks as Buffer[]).toString('utf8'), 'héllo');
  });

  test("'data' delivers strings after setEncoding('utf8')", async (t) => {
    const server = net.createServer((socket) => socket.end('héllo'));
    const client = await connect(t, await listen(t, server));
    client.setEncoding('utf8');
    const chunks: unknown[] = [];
    client.on('data', (chunk: unknown) => chunks.push(chunk));
    await once(client, 'end');
    assert.ok(chunks.length > 0);
    assert.ok(chunks.every((chunk) => typeof chunk === 'string'), 'every chunk is a string');
    assert.equal(chunks.join(''), 'héllo');
  });

  test("'end' fires on the side that reads the peer's FIN, not on the side that sends it", async (t) => {
    // allowHalfOpen: the server does not answer the client's FIN with its own until we say so.
    const server = net.createServer({ allowHalfOpen: true });
    const { client, socket } = await connected(t, server);
    const order: string[] = [];
    socket.on('end', () => order.push('server end'));
    client.on('end', () => order.push('client end'));
    socket.resume();
    client.resume();

    client.end(); // the client sends a FIN...
    await once(socket, 'end'); // ...and the server, which reads it, gets 'end'
    assert.equal(client.readableEnded, false, "the client sent a FIN but got no 'end' for it");

    socket.end(); // now the server sends its FIN, and the client reads it
    await once(client, 'end');
    assert.deepEqual(order, ['server end', 'client end']);
  });

  test("'end' waits for the buffered data to be read: a paused socket sees it only after resume()", async (t) => {
    let finArrived!: () => void;
    const fin = new Promise<void>((resolve) => (finArrived = resolve));
    const server = net.createServer((socket) => {
      socket.pause(); // this socket does not read
      // When Node reads the peer's FIN it marks the end of the data with push(null).
      // Watching that call tells us the FIN has arrived, without sleeping.
      const push = socket.push;
      socket.push = (chunk: unknown, encoding?: BufferEncoding) => {
        const more = push.call(socket, chunk, encoding);
        if (chunk === null) finArrived();
        return more;
      };
    });
    const { client, socket } = await connected(t, server);
    const order: string[] = [];
    socket.on('end', () => order.push('end'));
    client.on('end', () => order.push('client end'));
    client.resume();

    client.end('hello');
    await fin;
    await new Promise((resolve) => setImmediate(resolve)); // give a pending 'end' every chance to fire
    assert.equal(socket.readableLength, 5, 'the 5 bytes still wait in the buffer');
    assert.equal(socket.readableEnded, false);
    assert.deepEqual([...order], [], "no 'end' while the data is unread");

    socket.on('data', () => order.push('data'));
    socket.resume();
    await closed(client);
    // The data first, then 'end'; only then does the server end its side, so the client's 'end' comes last.
    assert.deepEqual(order.filter((name, i) => name !== 'data' || order[i - 1] !== 'data'), ['data', 'end', 'client end']);
  });

  test("'finish' means Node's queue is empty and shutdown was called: it fires while the peer has read nothing, and the FIN arrives after every byte", async (t) => {
    // pauseOnConnect: the accepted socket reads nothing from the kernel until resume().
    const server = net.createServer({ pauseOnConnect: true });
    const { client, socket } = await connected(t, server);
    const payload = Buffer.alloc(256 * KiB, 'z'); // less than the kernel's buffers hold on loopback
    const atFinish = new Promise<{ queued: number; peerRead: number }>((resolve) =>
      client.once('finish', () => resolve({ queued: client.writableLength, peerRead: socket.bytesRead })),
    );
    client.end(payload);
    assert.deepEqual(await atFinish, { queued: 0, peerRead: 0 }, "at 'finish' Node's queue is empty and the peer has read nothing");

    let received = 0;
    let atEnd = -1;
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.on('end', () => (atEnd = received));
    socket.resume();
    await once(socket, 'end');
    assert.equal(atEnd, payload.length, "the peer's 'end' (the FIN) comes after every byte");
  });

  // ── allowHalfOpen ──────────────────────────────────────────────────────────

  test("allowHalfOpen false (the default): the socket is still writable inside 'end', then Node ends it for you", async (t) => {
    const seen: Record<string, boolean> = {};
    const server = net.createServer((socket) => {
      socket.resume();
      socket.on('finish', mustCall(t)); // our FIN went out, although we never call end()
      socket.on('end', () => {
        seen.writableInEnd = socket.writable;
        seen.endedInEnd = socket.writableEnded;
        socket.write('bye');
        setImmediate(() => (seen.endedLater = socket.writableEnded));
      });
    });
    const client = await connect(t, await listen(t, server));
    const answer = readAll(client);
    client.end('hi');
    assert.equal((await answer).toString(), 'bye');
    await closed(client);
    assert.deepEqual(seen, { writableInEnd: true, endedInEnd: false, endedLater: true });
  });

  test("allowHalfOpen false: a reply written after an await in the 'end' handler never arrives; write() returns false, its callback gets EPIPE, the socket is destroyed and emits 'error' EPIPE, then 'close' with hadError true", async (t) => {
    let late!: { returned: boolean; destroyed: boolean; callback: Promise<Error | null | undefined> };
    const server = net.createServer((socket) => {
      const events = record(socket);
      socket.on('close', () => serverEvents(events));
      socket.on('end', async () => {
        await Promise.resolve(); // even this is too late: Node has ended our side meanwhile
        let callback!: (err?: Error | null) => void;
        const called = new Promise<Error | null | undefined>((resolve) => (callback = resolve));
        const returned = socket.write('too late', callback);
        late = { returned, destroyed: socket.destroyed, callback: called };
      });
    });
    let serverEvents!: (events: string[]) => void;
    const events = new Promise<string[]>((resolve) => (serverEvents = resolve));
    const client = await connect(t, await listen(t, server));
    const answer = readAll(client);
    client.end('hi');
    assert.equal((await answer).toString(), '', 'nothing arrives');
    assert.deepEqual(await events, ['data', 'end', 'error EPIPE', 'close true']);
    assert.equal(late.returned, false);
    assert.equal(late.destroyed, true);
    const err = (await late.callback) as NodeJS.ErrnoException | undefined;
    assert.equal(err?.code, 'EPIPE');
    assert.equal(err?.message, 'This socket has been ended by the other party');
  });

  test("allowHalfOpen false: without an 'error' listener, that late write crashes the process (EPIPE)", async () => {
    const { code: exitCode, stderr } = await runScript(`
      import net from 'node:net';
      const server = net.createServer((socket) => {
        socket.resume();
        socket.on('end', async () => { await Promise.resolve(); socket.write('too late'); });
        socket.on('close', () => server.close()); // no crash: the child ends by itself
      });
      server.listen(0, '127.0.0.1', () => {
        const client = net.connect(server.address().port, '127.0.0.1');
        client.resume();
        client.end('hi');
      });
    `, { module: true });
    assert.equal(exitCode, 1, stderr);
    assert.match(stderr, /Unhandled 'error' event/);
    assert.match(stderr, /EPIPE/);
  });

  test("allowHalfOpen true: the socket stays writable after the peer's FIN until you call end()", async (t) => {
    const seen: Record<string, boolean> = {};
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.resume();
      socket.on('end', () => {
        setImmediate(() => {
          seen.writable = socket.writable;
          seen.ended = socket.writableEnded;
          socket.write('a late ');
          socket.end('answer');
        });
      });
    });
    const client = await connect(t, await listen(t, server));
    const answer = readAll(client);
    client.end('hi');
    assert.equal((await answer).toString(), 'a late answer');
    assert.deepEqual(seen, { writable: true, ended: false });
  });

  // ── the lesson's server and demos ──────────────────────────────────────────

  test('the lesson server reads the whole request, and answers and ends only after the client ends its side', async (t) => {
    const timeline = new Timeline();
    const { port, serverClosed } = await watchedServer(t, timeline);
    const client = await connect(t, port);
    const answer = readAll(client);
    client.write('hel');
    client.write('lo ');
    client.end('server');
    assert.equal((await answer).toString(), reply('hello server'));
    await serverClosed();
    // Within the server's own events the order is fixed: it writes only after 'end'.
    assert.deepEqual(sequence(timeline, 'server'), ['data', 'end', 'write()', 'end()', 'finish', 'close']);
  });

  test('a clean exchange: each side sees its events in a fixed order, ending with close(hadError false)', async (t) => {
    const timeline = new Timeline();
    const { port, serverClosed } = await watchedServer(t, timeline);
    assert.equal(await exchange(timeline, port, HOST, 'hello server'), reply('hello server'));
    await serverClosed();
    assert.deepEqual(sequence(timeline, 'client'), ['connect', 'ready', 'write()', 'end()', 'finish', 'data', 'end', 'close']);
    assert.deepEqual(sequence(timeline, 'server'), ['data', 'end', 'write()', 'end()', 'finish', 'close']);
    for (const side of ['client', 'server'] as const) {
      assert.deepEqual(timeline.events.filter((e) => e.side === side && e.name === 'close').map((e) => e.detail), ['hadError: false']);
    }
    // Across the two sides only cause and effect is fixed: a FIN is read after it was sent.
    assert.ok(position(timeline, 'client', 'end()') < position(timeline, 'server', 'end'));
    assert.ok(position(timeline, 'server', 'end()') < position(timeline, 'client', 'end'));
  });

  test('the lesson server writes one note to an idle client, disarms its timer and keeps the connection open', async (t) => {
    const server = createRequestServer({ idleMs: 20 });
    const { client, socket } = await connected(t, server);
    const all = readAll(client);
    await readUntil(client, (text) => text.includes(IDLE_NOTE));
    assert.equal(socket.timeout, 0, 'the idle timer is disarmed after the note: no second note can come');
    client.end('ping');
    assert.equal((await all).toString(), IDLE_NOTE + reply('ping'));
  });

  test('the lesson server refuses a request longer than MAX_REQUEST bytes, counted in bytes: é counts twice', async (t) => {
    const port = await listen(t, createRequestServer());
    // MAX_REQUEST bytes exactly: answered.
    const exact = await connect(t, port);
    const answer = readAll(exact);
    exact.end('é'.repeat(MAX_REQUEST / 2));
    assert.equal((await answer).length, MAX_REQUEST);
    // Two bytes more, in far fewer characters than MAX_REQUEST: refused.
    const over = await connect(t, port);
    const refusal = readAll(over);
    const request = 'é'.repeat(MAX_REQUEST / 2 + 1);
    assert.ok(request.length < MAX_REQUEST, 'fewer characters than the limit');
    over.end(request);
    assert.equal((await refusal).toString(), TOO_LONG);
  });

  test('the lesson server refuses a request of 1,000,000 one-character lines, and reads it all', async (t) => {
    const server = createRequestServer();
    const { client, socket } = await connected(t, server);
    const socketClosed = closed(socket);
    const answer = readAll(client);
    client.end('x\n'.repeat(1_000_000));
    assert.equal((await answer).toString(), TOO_LONG);
    await socketClosed;
    assert.equal(socket.bytesRead, 2_000_000, 'the server read and dropped the rest, so the refusal was not cut off by a reset');
  });

  test('a client that sends 16 MiB and never reads: the lesson server holds at most its refusal to send and readableHighWaterMark + one read (64 KiB) received; once the client reads, the refusal and the FIN arrive', async (t) => {
    const server = createRequestServer();
    const serverSocket = nextConnection(server);
    const client = await connect(t, await listen(t, server));
    client.pause(); // it reads nothing
    const socket = await serverSocket;
    let maxUnsent = 0;
    let maxUnread = 0;
    socket.prependListener('data', () => {
      maxUnsent = Math.max(maxUnsent, socket.writableLength);
      maxUnread = Math.max(maxUnread, socket.readableLength);
    });
    const total = 16 * MiB;
    const sender = sendWithoutReading(client, Buffer.alloc(64 * KiB, 'y'), total);
    await sender.done; // the server kept reading (and dropping), so every byte could be sent
    assert.equal(sender.sent(), total);
    assert.ok(maxUnsent <= Buffer.byteLength(TOO_LONG), `the server held ${maxUnsent} B unsent, expected at most its refusal (${Buffer.byteLength(TOO_LONG)} B)`);
    assert.ok(maxUnread <= socket.readableHighWaterMark + ONE_READ, `the server held ${maxUnread} B unread, expected at most ${socket.readableHighWaterMark} + ${ONE_READ}`);
    const answer = readAll(client);
    client.resume(); // now the client reads
    client.end();
    assert.equal((await answer).toString(), TOO_LONG);
  });

  test("the lesson's refused demo draws 'error' ECONNREFUSED, then close(hadError true), and reports err.code", async () => {
    const timeline = new Timeline();
    assert.deepEqual(await connectRefused(timeline, await refusedPort(), HOST), { code: 'ECONNREFUSED', hadError: true });
    assert.deepEqual(timeline.events.map((e) => `${e.name} ${e.detail}`), ['error ECONNREFUSED', 'close hadError: true']);
  });

  test("the lesson's idle demo: 'timeout' fires once and the exchange after it completes normally", async (t) => {
    const timeline = new Timeline();
    const { port, serverClosed } = await watchedServer(t, timeline);
    assert.equal(await idleThenAsk(timeline, port, HOST, 20, 'still there?'), reply('still there?'));
    await serverClosed();
    assert.deepEqual(sequence(timeline, 'client'), ['connect', 'ready', 'timeout', 'write()', 'end()', 'finish', 'data', 'end', 'close']);
    assert.equal(timeline.events.find((e) => e.side === 'client' && e.name === 'close')?.detail, 'hadError: false');
  });

  test("the lesson's drain demo: writableHighWaterMark bytes written before 'connect' make write() return false; 'drain' follows 'connect'", async (t) => {
    const timeline = new Timeline();
    const { port, serverClosed } = await watchedServer(t, timeline);
    const { returned, answer } = await writeWhileConnecting(timeline, port, HOST);
    await serverClosed();
    assert.equal(returned, false);
    assert.equal(answer, reply('x'.repeat(new net.Socket().writableHighWaterMark)));
    const client = sequence(timeline, 'client');
    assert.deepEqual(client.slice(0, 2), ['write()', 'write() returned']);
    assert.ok(client.indexOf('connect') < client.indexOf('drain'), client.join(', '));
    assert.equal(timeline.events.find((e) => e.name === 'write() returned')?.detail, 'false');
  });

  test("the lesson's reset demo: the server's socket gets 'error' ECONNRESET, then close(hadError true), and the server keeps answering", async (t) => {
    const timeline = new Timeline();
    const { server, port } = await watchedServer(t, timeline);
    const serverSide = nextConnection(server);
    assert.equal(await resetMidRequest(timeline, port, HOST, serverSide), true);
    assert.deepEqual(sequence(timeline, 'server'), ['data', 'error', 'close']);
    assert.equal(timeline.events.find((e) => e.side === 'server' && e.name === 'error')?.detail, 'ECONNRESET');
    assert.ok(position(timeline, 'client', 'resetAndDestroy()') < position(timeline, 'server', 'error'));
    const polite = await connect(t, port);
    const answer = readAll(polite);
    polite.end('hello');
    assert.equal((await answer).toString(), reply('hello'));
  });

  // ── 'error' ────────────────────────────────────────────────────────────────

  test("a refused connection emits 'error' (ECONNREFUSED) and then 'close' with hadError true", async (t) => {
    const client = net.connect(await refusedPort(), HOST);
    onCleanup(t, () => client.destroy());
    client.on('connect', mustNotCall("'connect'"));
    const order: string[] = [];
    client.on('error', mustCall(t, (err: NodeJS.ErrnoException) => {
      assert.ok(!(err instanceof AggregateError), 'one address, so a plain Error');
      order.push(`error ${err.code}`);
    }));
    order.push(`close ${await closed(client)}`);
    assert.deepEqual(order, ['error ECONNREFUSED', 'close true']);
  });

  test("a reset by the peer (resetAndDestroy) emits 'error' (ECONNRESET) and then 'close' with hadError true; the side that resets gets only close(hadError false)", async (t) => {
    let resetter!: Promise<string[]>;
    const server = net.createServer((socket) => {
      const events = record(socket);
      resetter = closed(socket).then(() => events);
      // Reset once the bytes were read: nothing unread stands in front of the RST.
      socket.once('data', () => socket.resetAndDestroy());
    });
    const client = await connect(t, await listen(t, server));
    const order = record(client);
    client.on('error', mustCall(t));
    client.write('hello');
    await closed(client);
    assert.deepEqual(order, ['error ECONNRESET', 'close true']);
    assert.deepEqual(await resetter, ['data', 'close false']);
  });

  test("an RST right behind unread bytes: Node 24 and newer report ECONNRESET, Node 20 and 22 a plain 'end'", async (t) => {
    const server = net.createServer();
    const { client, socket } = await connected(t, server);
    const socketClosed = closed(socket);
    const events = record(socket);
    // The write is done before the reset, but the server has not read the bytes yet.
    await new Promise((resolve) => client.write('half a requ', resolve));
    client.resetAndDestroy();
    await socketClosed;
    assert.deepEqual(events, MAJOR >= 24 ? ['data', 'error ECONNRESET', 'close true'] : ['data', 'end', 'close false']);
  });

  test('connecting by a name with several addresses can fail with an AggregateError: empty message, the code of the first attempt, one error per address', async (t) => {
    const port = await refusedPort();
    // A stand-in for DNS: the name has an IPv4 and an IPv6 address, like localhost on many machines.
    const addresses = [{ address: HOST, family: 4 }, { address: '::1', family: 6 }];
    const client = net.connect({
      host: 'two-addresses.test',
      port,
      autoSelectFamily: true,
      // Each attempt may take this long before Node gives up on it (ETIMEDOUT): far more than a
      // busy machine needs, so the causes are the refusals themselves.
      autoSelectFamilyAttemptTimeout: 5000,
      lookup: (_host, options, callback) => {
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0].address, addresses[0].family);
      },
    });
    onCleanup(t, () => client.destroy());
    let error: unknown;
    client.on('error', mustCall(t, (err: unknown) => (error = err)));
    assert.equal(await closed(client), true);
    assert.ok(error instanceof AggregateError, `got ${String(error)}`);
    assert.equal(error.message, '', 'the message is empty: print err.code instead');
    assert.equal((error as NodeJS.ErrnoException).code, 'ECONNREFUSED');
    const causes = error.errors as NodeJS.ErrnoException[];
    assert.equal(causes.length, 2);
    assert.ok(causes.some((e) => e.code === 'ECONNREFUSED' && (e as { address?: string }).address === HOST));
  });

  test("a socket without an 'error' listener crashes the process when an error comes", async () => {
    const port = await refusedPort();
    const { code: exitCode, stderr } = await runScript(`import net from 'node:net'; net.connect(${port}, '${HOST}');`, { module: true });
    assert.equal(exitCode, 1);
    assert.match(stderr, /Unhandled 'error' event/);
    assert.match(stderr, /ECONNREFUSED/);
  });

  test('a client that resets does not crash the lesson server, which keeps answering others', async (t) => {
    const server = createRequestServer();
    const serverSocket = nextConnection(server);
    const port = await listen(t, server);
    const rude = await connect(t, port);
    const socket = await serverSocket;
    const socketClosed = closed(socket);
    const events = record(socket);
    const read = firstData(socket);
    rude.write('half a requ');
    await read; // read first, so every Node version reports ECONNRESET
    rude.resetAndDestroy();
    await socketClosed;
    assert.deepEqual(events, ['data', 'error ECONNRESET', 'close true']);
    const polite = await connect(t, port);
    const answer = readAll(polite);
    polite.end('hello');
    assert.equal((await answer).toString(), reply('hello'));
  });

  // ── 'timeout' and keep-alive ───────────────────────────────────────────────

  test("'timeout' only reports idleness: it fires for a live peer, and the socket stays open and writable", async (t) => {
    const server = net.createServer();
    const serverSocket = nextConnection(server);
    const client = await connect(t, await listen(t, server));
    const received = readAll(await serverSocket);
    const state: Record<string, unknown> = {};
    client.on('timeout', mustCall(t, () => {
      Object.assign(state, { destroyed: client.destroyed, readyState: client.readyState, writable: client.writable });
      client.setTimeout(0);
      client.end('still here');
    }));
    client.setTimeout(20);
    assert.equal((await received).toString(), 'still here');
    assert.deepEqual(state, { destroyed: false, readyState: 'open', writable: true });
  });

  test('every write and every read restarts the idle timer', async (t) => {
    const server = net.createServer();
    const port = await listen(t, server);
    /** One try: which of three sockets armed together times out first, and how late the reader's read came. */
    const attempt = async (): Promise<{ first: string; readAfter: number }> => {
      const accepted = new Promise<net.Socket[]>((resolve) => {
        const sockets: net.Socket[] = [];
        const onConnection = (socket: net.Socket) => {
          if (sockets.push(socket) < 3) return;
          server.off('connection', onConnection);
          resolve(sockets);
        };
        server.on('connection', onConnection);
      });
      const [reader, writer, control] = [await connect(t, port), await connect(t, port), await connect(t, port)];
      const serverSockets = await accepted;
      const first = new Promise<string>((resolve) => {
        for (const [name, socket] of Object.entries({ reader, writer, control })) {
          socket.resume();
          socket.on('timeout', () => {
            for (const s of [reader, writer, control]) s.destroy();
            resolve(name);
          });
        }
      });
      // Armed in this order, so without activity 'reader' would time out first and 'control' last.
      const armed = performance.now();
      reader.setTimeout(200);
      writer.setTimeout(200);
      control.setTimeout(200);
      writer.write('x'); // restarts the writer's timer at once
      serverSockets.find((s) => s.remotePort === reader.localPort)!.write('y');
      await once(reader, 'data'); // the reader has read: its timer restarted
      const readAfter = performance.now() - armed;
      return { first: await first, readAfter };
    };
    // On a busy machine the read can come after the reader's 200 ms have passed: then, as far as
    // Node could see, the reader really was idle. Such a try proves nothing: try again.
    let result = await attempt();
    for (let tries = 1; result.readAfter > 100 && tries < 5; tries += 1) result = await attempt();
    assert.ok(result.readAfter <= 100, `the machine was too busy to try (the read came ${result.readAfter.toFixed(0)} ms late)`);
    assert.equal(result.first, 'control', 'the first socket to time out');
  });

  test('setTimeout(0) disarms the idle timer', async (t) => {
    const server = net.createServer();
    const port = await listen(t, server);
    const disarmed = await connect(t, port);
    const control = await connect(t, port);
    disarmed.on('timeout', mustNotCall("'timeout' after setTimeout(0)"));
    disarmed.setTimeout(10);
    disarmed.setTimeout(0);
    // The control's longer timer can only fire after the disarmed 10 ms timer would have.
    control.setTimeout(50);
    await once(control, 'timeout');
  });

  test("createServer({ keepAlive: true, keepAliveInitialDelay }) arms the kernel's keep-alive timer on every accepted socket; without it there is none", { skip: ssSkip() }, async (t) => {
    const withKeepAlive = net.createServer({ keepAlive: true, keepAliveInitialDelay: 60_000 });
    const { client, socket } = await connected(t, withKeepAlive);
    const timer = keepAliveTimer(socket.localPort!, socket.remotePort!);
    // The timer counts down from 60 s; a busy machine may take a few seconds to run ss.
    assert.ok(timer !== null && timer > 30_000 && timer <= 60_000, `server side: keep-alive timer ${timer} ms, expected just under 60000`);
    assert.equal(keepAliveTimer(client.localPort!, client.remotePort!), null, 'the client did not ask for keep-alive');
  });

  test("socket.setKeepAlive(true, ms) arms it on one socket, in whole seconds: 1500 gives 1 s, and under 1000 keeps the kernel's own setting", { skip: ssSkip() }, async (t) => {
    const port = await listen(t, net.createServer());
    /** setKeepAlive(true, delay) on a new socket; the timer ss shows, and how long that took. */
    const arm = async (delay: number) => {
      const client = await connect(t, port);
      const armed = performance.now();
      client.setKeepAlive(true, delay);
      const timer = keepAliveTimer(client.localPort!, client.remotePort!);
      return { timer, took: performance.now() - armed };
    };
    const long = await arm(30_000);
    assert.ok(long.timer !== null && long.timer > 15_000 && long.timer <= 30_000, `setKeepAlive(true, 30000): ${long.timer} ms`);
    // A 1 s timer may have gone off if running ss took long (a busy machine): such a try proves nothing.
    let short = await arm(1500);
    for (let tries = 1; short.took > 500 && tries < 5; tries += 1) short = await arm(1500);
    assert.ok(short.took <= 500, `the machine was too busy to read a 1 s timer in time (ss took ${short.took.toFixed(0)} ms)`);
    assert.ok(short.timer !== null && short.timer > 0 && short.timer <= 1000, `setKeepAlive(true, 1500): ${short.timer} ms, expected at most 1 s`);
    const kernel = Number(readFileSync('/proc/sys/net/ipv4/tcp_keepalive_time', 'utf8')) * 1000;
    const fallback = await arm(999);
    // ss shows long timers in whole minutes (119min for 2 h less a few seconds).
    assert.ok(fallback.timer !== null && fallback.timer > kernel - 120_000 && fallback.timer <= kernel, `setKeepAlive(true, 999): ${fallback.timer} ms, expected the kernel's tcp_keepalive_time (${kernel} ms)`);
  });

  // ── 'drain' and writableLength ─────────────────────────────────────────────

  test('writableHighWaterMark is 16 KiB on Node 20 and 64 KiB on Node 22 and newer', () => {
    const socket = new net.Socket();
    assert.equal(socket.writableHighWaterMark, MAJOR >= 22 ? 64 * KiB : 16 * KiB);
    socket.destroy();
  });

  test('writableLength counts a write in full until the kernel has taken its last byte: one 16 MiB write counts 16777216 while the peer has already read part of it', async (t) => {
    const server = net.createServer();
    const { client, socket } = await connected(t, server);
    const total = 16 * MiB;
    const seen: number[] = []; // the client's writableLength at each read of the peer, until the write is done
    let peerRead = 0;
    let done = false;
    socket.on('data', (chunk: Buffer) => {
      peerRead += chunk.length;
      if (!done) seen.push(client.writableLength);
    });
    let readWhileUnfinished = 0;
    socket.on('data', () => !done && (readWhileUnfinished = peerRead));
    await new Promise<void>((resolve) => client.write(Buffer.alloc(total), () => {
      done = true;
      resolve();
    }));
    assert.equal(client.writableLength, 0, 'finished: nothing counted any more');
    assert.ok(seen.length > 0 && readWhileUnfinished > 0, 'the peer read part of the write before it was finished');
    assert.deepEqual([...new Set(seen)], [total], `writableLength while the peer had read up to ${readWhileUnfinished} B`);
    client.end();
    await once(socket, 'end');
    assert.equal(peerRead, total);
  });

  test('a write the kernel takes at once returns true, even one of writableHighWaterMark bytes', { skip: process.platform !== 'linux' && "depends on the kernel's buffer sizes; checked on Linux loopback" }, async (t) => {
    const server = net.createServer((socket) => socket.resume());
    const client = await connect(t, await listen(t, server));
    assert.equal(client.write(Buffer.alloc(client.writableHighWaterMark)), true);
    assert.equal(client.writableLength, 0, 'the kernel took it all at once');
  });

  test("write() returns false once unfinished writes add up to writableHighWaterMark (a peer that does not read); 'drain' fires when they are done", async (t) => {
    const server = net.createServer((socket) => socket.pause()); // a peer that does not read
    const { client, socket } = await connected(t, server);
    const drained = new Promise<number>((resolve) => client.once('drain', () => resolve(client.writableLength)));
    const chunk = Buffer.alloc(client.writableHighWaterMark / 4, 'x');
    let sent = 0;
    for (let more = true; more; ) {
      more = client.write(chunk);
      sent += chunk.length;
      assert.ok(sent < 256 * MiB, 'write() never returned false');
    }
    // The kernel's buffers are full; Node keeps the rest.
    assert.ok(client.writableLength >= client.writableHighWaterMark, `writableLength ${client.writableLength}`);

    let received = 0;
    socket.on('data', (data: Buffer) => (received += data.length));
    socket.resume();
    assert.equal(await drained, 0, "writableLength is 0 at 'drain'");
    client.end();
    await once(socket, 'end');
    assert.equal(received, sent);
  });

  test("writes made while still connecting wait in Node's queue: write() returns false and 'drain' follows", async (t) => {
    const server = net.createServer();
    const serverSocket = nextConnection(server);
    const client = net.connect(await listen(t, server), HOST);
    onCleanup(t, () => client.destroy());
    const order: string[] = [];
    client.on('connect', () => order.push('connect'));
    const hwm = client.writableHighWaterMark;
    assert.equal(client.write(Buffer.alloc(hwm)), false);
    assert.equal(client.writableLength, hwm);
    const received = readAll(await serverSocket);
    await once(client, 'drain');
    order.push(`drain ${client.writableLength}`);
    client.end();
    assert.equal((await received).length, hwm);
    assert.deepEqual(order, ['connect', 'drain 0']);
  });

  test("small writes that return true never cause 'drain'", async (t) => {
    const server = net.createServer();
    const serverSocket = nextConnection(server);
    const client = await connect(t, await listen(t, server));
    const received = readAll(await serverSocket);
    client.on('drain', mustNotCall("'drain'"));
    assert.equal(client.write('a'), true);
    assert.equal(client.write('b'), true);
    client.end('c');
    await once(client, 'finish'); // every write is done: a 'drain' would have come before this
    assert.equal((await received).toString(), 'abc');
  });

  // ── flags, the run, --serve ────────────────────────────────────────────────

  test(`--idle must be a whole number from 1 to ${MAX_IDLE_MS}, says so in one line, and its help names the limit`, async () => {
    for (const idle of ['0', 'soon', String(MAX_IDLE_MS + 1), '99999999999']) {
      await assert.rejects(main({ serve: false, port: 0, host: HOST, extra: { idle } }), (err: Error) => {
        assert.ok(err instanceof UsageError, String(err));
        assert.equal(err.message, `--idle must be a whole number from 1 to ${MAX_IDLE_MS} (got ${JSON.stringify(idle)})`);
        return true;
      });
    }
    assert.match(usage(flags), new RegExp(`--idle <ms> .*at most ${MAX_IDLE_MS}`));
  });

  test('npm run lesson 03 draws its five demos from events of that run: drain, ECONNRESET, ECONNREFUSED and err.code among them', async (t) => {
    const lines: string[] = [];
    t.mock.method(console, 'log', (line: string) => lines.push(String(line)));
    await main({ serve: false, port: 0, host: HOST, extra: {} });
    const out = lines.join('\n');
    assert.match(out, /connect\n.*ready/);
    assert.match(out, /timeout/);
    assert.match(out, /write\(\) returned false/);
    assert.match(out, /\bdrain\b/);
    assert.match(out, /resetAndDestroy\(\) RST/);
    assert.match(out, /error ECONNRESET\n.*close hadError: true/);
    assert.match(out, /error ECONNREFUSED\n.*close hadError: true/);
    assert.match(out, /err\.code is ECONNREFUSED/);
  });

  test("when serve() stops, a connection in the middle of a request gets the server's FIN and no reply, and its socket closes without an error", async (t) => {
    const server = createRequestServer();
    const { client, socket } = await connected(t, server);
    const socketClosed = closed(socket);
    const events = record(socket);
    const read = firstData(socket);
    const answer = readAll(client);
    client.write('half a requ');
    await read;
    finishConnection(socket); // what serve() does to every open connection on Ctrl-C or SIGTERM
    assert.equal((await answer).toString(), '', "the server's FIN, and no reply to half a request");
    client.end();
    await socketClosed;
    assert.deepEqual(events, ['data', 'end', 'close false']);
  });

  test("when serve() stops between a request's FIN and its answer, the server writes nothing more and its socket closes without an error", async (t) => {
    const server = createRequestServer();
    const { client, socket } = await connected(t, server);
    const socketClosed = closed(socket);
    const events = record(socket);
    // Added after the lesson's own 'end' listener, which has just scheduled the answer.
    socket.on('end', () => finishConnection(socket));
    const answer = readAll(client);
    client.end('a whole request');
    assert.equal((await answer).toString(), '');
    await socketClosed;
    assert.deepEqual(events, ['data', 'end', 'close false']);
  });

  test('--serve prints the real address and idle time, survives a reset, and on SIGTERM ends an open connection with a FIN and exits 0', async (t) => {
    const lesson = start(t, 'bin/lesson.ts', ['03', '--serve', '--idle', '300000']);
    await lesson.waitFor(/Ctrl-C stops the server/);
    const [, port] = lesson.stdout.match(/listening on 127\.0\.0\.1:(\d+)\./) ?? [];
    assert.ok(port, lesson.stdout);
    assert.doesNotMatch(lesson.stdout, /\b(PORT|HOST)\b/, 'no placeholders');
    assert.match(lesson.stdout, new RegExp(`nc 127\\.0\\.0\\.1 ${port}\\b`));
    assert.match(lesson.stdout, /Stay quiet for 300000 ms/);
    assert.match(lesson.stdout, new RegExp(`TCP:127\\.0\\.0\\.1:${port},linger=0`));

    const rude = await connect(t, Number(port));
    rude.resetAndDestroy();
    await lesson.waitFor(/error ECONNRESET/);

    const client = await connect(t, Number(port));
    client.on('error', mustNotCall("'error' on the client: the server must end with a FIN, not a reset"));
    const answer = readAll(client);
    client.write('half a requ');
    await lesson.waitFor(/data "half a requ"/);
    lesson.child.kill('SIGTERM');
    assert.equal((await answer).toString(), '', "the server's FIN");
    client.end();
    const { code, stdout, stderr } = await lesson.finished;
    assert.equal(code, 0, stderr);
    assert.match(stdout, /stopping \(SIGTERM\): closing the server and finishing 1 open connection/);
    assert.match(stdout, /server closed/);
    assert.doesNotMatch(stdout, /ERR_STREAM_WRITE_AFTER_END|EPIPE/);
  });

  // ── by hand ────────────────────────────────────────────────────────────────

  /** Run a shell command against a lesson server; resolves with the server socket's events. */
  async function byHand(t: TestContext, command: (port: number) => string, act: (child: ReturnType<typeof spawn>, sent: Promise<unknown>) => void): Promise<string[]> {
    const server = createRequestServer();
    const serverSocket = nextConnection(server);
    const port = await listen(t, server);
    // ulimit -c 0: SIGQUIT must not leave a core file behind.
    const child = spawn('sh', ['-c', `ulimit -c 0; exec ${command(port)}`], { cwd: os.tmpdir(), stdio: ['pipe', 'ignore', 'ignore'] });
    child.stdin!.on('error', () => {}); // the tool may be gone before its input is
    onCleanup(t, () => child.kill('SIGKILL'));
    const socket = await serverSocket;
    const socketClosed = closed(socket);
    const events = record(socket);
    act(child, firstData(socket));
    await socketClosed;
    return events;
  }

  test("Ctrl-C in nc is no reset: nc exits and the kernel closes its socket with a FIN (the server gets 'end', then close(hadError false))", { skip: !has('nc') && 'nc is not installed (apt-get install netcat-openbsd)' }, async (t) => {
    const events = await byHand(t, (port) => `nc ${HOST} ${port}`, (child, sent) => {
      child.stdin!.write('hello\n');
      void sent.then(() => child.kill('SIGINT'));
    });
    assert.deepEqual(events, ['data', 'end', 'close false']);
  });

  test('socat with linger=0 and Ctrl-\\ (SIGQUIT) resets: the server gets ECONNRESET', { skip: !has('socat') && 'socat is not installed (apt-get install socat)' }, async (t) => {
    const events = await byHand(t, (port) => `socat - TCP:${HOST}:${port},linger=0`, (child, sent) => {
      child.stdin!.write('hello\n');
      void sent.then(() => child.kill('SIGQUIT'));
    });
    assert.deepEqual(events, ['data', 'error ECONNRESET', 'close true']);
  });

  test("the one-line Node client with resetAndDestroy() resets: the server gets ECONNRESET", async (t) => {
    const events = await byHand(
      t,
      (port) => `"${process.execPath}" -e "require('node:net').connect(${port}, '127.0.0.1', function () { this.resetAndDestroy(); })"`,
      () => {},
    );
    assert.deepEqual(events, ['error ECONNRESET', 'close true']);
  });
});

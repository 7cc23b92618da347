import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import test, { type TestContext } from 'node:test';
import { UsageError } from '../shared/cli.ts';
import { closed, readAll, readUntil } from '../shared/read.ts';
import { HOST, closedPort, connect, listen, mustCall, mustNotCall } from '../shared/testing.ts';
import { Timeline, type Side } from '../shared/timeline.ts';
import {
  IDLE_NOTE, MAX_REQUEST, TOO_LONG, connectRefused, createRequestServer, exchange, idleThenAsk, main, reply,
} from './lesson.ts';

// No test here needs more than a fraction of a second; one that waits for an event that never
// comes fails after this long instead of hanging.
const LIMIT = { timeout: 10_000 };

/** Resolves with `hadError` when the socket closes. (events.once would reject on an 'error'.) */
/** The next socket the server accepts. */
async function accepted(server: net.Server): Promise<net.Socket> {
  const [socket] = (await once(server, 'connection')) as [net.Socket];
  return socket;
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
  return { port, serverClosed: () => serverClosed };
}

test("'connect' and 'ready' fire once on the client and never on the socket the server accepted", LIMIT, async (t) => {
  let serverSide!: Promise<boolean>;
  const server = net.createServer((socket) => {
    socket.on('connect', mustNotCall("'connect' on the accepted socket"));
    socket.on('ready', mustNotCall("'ready' on the accepted socket"));
    serverSide = closed(socket);
    socket.end('hi');
  });
  const port = await listen(t, server);
  const client = net.connect(port, HOST);
  t.after(() => client.destroy());
  const order: string[] = [];
  client.on('connect', mustCall(t, () => order.push('connect')));
  client.on('ready', mustCall(t, () => order.push('ready')));
  assert.equal((await readAll(client)).toString(), 'hi');
  await serverSide; // once the accepted socket is closed, it can emit nothing more
  assert.deepEqual(order, ['connect', 'ready']);
});

test("'data' delivers Buffers by default", LIMIT, async (t) => {
  const server = net.createServer((socket) => socket.end('héllo'));
  const client = await connect(t, await listen(t, server));
  const chunks: unknown[] = [];
  client.on('data', (chunk: unknown) => chunks.push(chunk));
  await once(client, 'end');
  assert.ok(chunks.length > 0);
  assert.ok(chunks.every((chunk) => Buffer.isBuffer(chunk)), 'every chunk is a Buffer');
  assert.equal(Buffer.concat(chunks as Buffer[]).toString('utf8'), 'héllo');
});

test("'data' delivers strings after setEncoding('utf8')", LIMIT, async (t) => {
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

test("'end' fires on the side that reads the peer's FIN, not on the side that sends it", LIMIT, async (t) => {
  // allowHalfOpen: the server does not answer the client's FIN with its own until we say so.
  const server = net.createServer({ allowHalfOpen: true });
  const serverSocket = accepted(server);
  const client = await connect(t, await listen(t, server));
  const socket = await serverSocket;
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

test("'end' waits for the buffered data to be read: a paused socket sees it only after resume()", LIMIT, async (t) => {
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
  const serverSocket = accepted(server);
  const client = await connect(t, await listen(t, server));
  const socket = await serverSocket;
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

test("allowHalfOpen false (the default): the socket is still writable inside 'end', then Node ends it for you", LIMIT, async (t) => {
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

test("allowHalfOpen false: a reply written after an await in the 'end' handler fails with EPIPE and never arrives", LIMIT, async (t) => {
  let late!: Promise<Error | null | undefined>;
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.resume();
    socket.on('end', async () => {
      await Promise.resolve(); // even this is too late: Node has ended our side meanwhile
      late = new Promise((resolve) => socket.write('too late', resolve));
    });
  });
  const client = await connect(t, await listen(t, server));
  const answer = readAll(client);
  client.end('hi');
  assert.equal((await answer).toString(), '');
  const err = (await late) as NodeJS.ErrnoException;
  assert.equal(err?.code, 'EPIPE');
});

test("allowHalfOpen true: the socket stays writable after the peer's FIN until you call end()", LIMIT, async (t) => {
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

test('the lesson server reads the whole request, and answers and ends only after the client ends its side', LIMIT, async (t) => {
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

test('a clean exchange: each side sees its events in a fixed order, ending with close(hadError false)', LIMIT, async (t) => {
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

test('the lesson server writes a note to an idle client and keeps the connection open', LIMIT, async (t) => {
  const client = await connect(t, await listen(t, createRequestServer({ idleMs: 20 })));
  const all = readAll(client);
  await readUntil(client, (text) => text.includes(IDLE_NOTE));
  client.end('ping');
  const text = (await all).toString();
  assert.ok(text.endsWith(reply('ping')), `the answer comes after the note: ${JSON.stringify(text)}`);
  const notes = text.slice(0, -reply('ping').length);
  assert.ok(notes.length > 0 && notes === IDLE_NOTE.repeat(notes.length / IDLE_NOTE.length), 'only notes before the answer');
});

test('the lesson server does not answer a request longer than MAX_REQUEST', LIMIT, async (t) => {
  const client = await connect(t, await listen(t, createRequestServer()));
  const answer = readAll(client);
  client.end('x'.repeat(MAX_REQUEST + 1));
  assert.equal((await answer).toString(), TOO_LONG);
});

test("a refused connection emits 'error' (ECONNREFUSED) and then 'close' with hadError true", LIMIT, async (t) => {
  const client = net.connect(await closedPort(), HOST);
  t.after(() => client.destroy());
  client.on('connect', mustNotCall("'connect'"));
  const order: string[] = [];
  client.on('error', mustCall(t, (err: NodeJS.ErrnoException) => {
    assert.ok(!(err instanceof AggregateError), 'one address, so a plain Error');
    order.push(`error ${err.code}`);
  }));
  order.push(`close ${await closed(client)}`);
  assert.deepEqual(order, ['error ECONNREFUSED', 'close true']);
});

test("the lesson's refused demo draws 'error' ECONNREFUSED, then close(hadError true)", LIMIT, async () => {
  const timeline = new Timeline();
  assert.equal(await connectRefused(timeline, await closedPort(), HOST), true);
  assert.deepEqual(timeline.events.map((e) => `${e.name} ${e.detail}`), ['error ECONNREFUSED', 'close hadError: true']);
});

test("a reset by the peer (resetAndDestroy) emits 'error' (ECONNRESET) and then 'close' with hadError true", LIMIT, async (t) => {
  const server = net.createServer((socket) => {
    // Reset after reading, with no write pending (on Node 20 a pending write turns the RST into a FIN).
    socket.once('data', () => socket.resetAndDestroy());
  });
  const client = await connect(t, await listen(t, server));
  const order: string[] = [];
  client.on('data', () => order.push('data'));
  client.on('end', () => order.push('end'));
  client.on('error', mustCall(t, (err: NodeJS.ErrnoException) => order.push(`error ${err.code}`)));
  client.write('hello');
  order.push(`close ${await closed(client)}`);
  assert.deepEqual(order, ['error ECONNRESET', 'close true']);
});

test('connecting by a name with several addresses can fail with an AggregateError that lists each attempt', LIMIT, async (t) => {
  const port = await closedPort();
  // A stand-in for DNS: the name has an IPv4 and an IPv6 address, like localhost on many machines.
  const addresses = [{ address: HOST, family: 4 }, { address: '::1', family: 6 }];
  const client = net.connect({
    host: 'two-addresses.test',
    port,
    autoSelectFamily: true,
    lookup: (_host, options, callback) => {
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    },
  });
  t.after(() => client.destroy());
  let error: unknown;
  client.on('error', mustCall(t, (err: unknown) => (error = err)));
  assert.equal(await closed(client), true);
  assert.ok(error instanceof AggregateError, `got ${String(error)}`);
  const causes = error.errors as NodeJS.ErrnoException[];
  assert.equal(causes.length, 2);
  assert.ok(causes.some((e) => e.code === 'ECONNREFUSED' && (e as { address?: string }).address === HOST));
});

test("'timeout' only reports idleness: the socket stays open and writable, and the peer gets what is written next", LIMIT, async (t) => {
  const server = net.createServer();
  const serverSocket = accepted(server);
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

test("the lesson's idle demo: 'timeout' fires once and the exchange after it completes normally", LIMIT, async (t) => {
  const timeline = new Timeline();
  const { port, serverClosed } = await watchedServer(t, timeline);
  assert.equal(await idleThenAsk(timeline, port, HOST, 20, 'still there?'), reply('still there?'));
  await serverClosed();
  assert.deepEqual(sequence(timeline, 'client'), ['connect', 'ready', 'timeout', 'write()', 'end()', 'finish', 'data', 'end', 'close']);
  assert.equal(timeline.events.find((e) => e.side === 'client' && e.name === 'close')?.detail, 'hadError: false');
});

test('every write and every read restarts the idle timer', LIMIT, async (t) => {
  const server = net.createServer();
  const serverSockets: net.Socket[] = [];
  const allAccepted = new Promise<void>((resolve) => server.on('connection', (socket) => {
    if (serverSockets.push(socket) === 3) resolve();
  }));
  const port = await listen(t, server);
  const [reader, writer, control] = [await connect(t, port), await connect(t, port), await connect(t, port)];
  await allAccepted;
  const first = new Promise<string>((resolve) => {
    for (const [name, socket] of Object.entries({ reader, writer, control })) {
      socket.resume();
      socket.on('timeout', () => {
        for (const s of [reader, writer, control]) s.setTimeout(0);
        resolve(name);
      });
    }
  });
  // Armed in this order, so without activity 'reader' would time out first and 'control' last.
  reader.setTimeout(200);
  writer.setTimeout(200);
  control.setTimeout(200);
  writer.write('x'); // restarts the writer's timer at once
  const readerOnServer = serverSockets.find((s) => s.remotePort === reader.localPort);
  assert.ok(readerOnServer);
  readerOnServer.write('y');
  await once(reader, 'data'); // the reader has read: its timer restarted
  assert.equal(await first, 'control', 'the first socket to time out');
});

test('setTimeout(0) disarms the idle timer', LIMIT, async (t) => {
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

test("a socket without an 'error' listener crashes the process when an error comes", LIMIT, async () => {
  const port = await closedPort();
  const code = `require('node:net').connect(${port}, '${HOST}');`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const [exitCode] = await once(child, 'close');
  assert.equal(exitCode, 1);
  assert.match(stderr, /Unhandled 'error' event/);
  assert.match(stderr, /ECONNREFUSED/);
});

test('a client that resets does not crash the lesson server, which keeps answering others', LIMIT, async (t) => {
  const port = await listen(t, createRequestServer());
  const rude = await connect(t, port);
  // Wait until the write is done: with no write pending, resetAndDestroy() sends a real RST.
  await new Promise((resolve) => rude.write('half a requ', resolve));
  rude.resetAndDestroy();
  await closed(rude);
  const polite = await connect(t, port);
  const answer = readAll(polite);
  polite.end('hello');
  assert.equal((await answer).toString(), reply('hello'));
});

test('writableHighWaterMark is 16 KiB on Node 20 and 64 KiB on Node 22 and newer', LIMIT, () => {
  const socket = new net.Socket();
  const major = Number(process.versions.node.split('.')[0]);
  assert.equal(socket.writableHighWaterMark, major >= 22 ? 64 * 1024 : 16 * 1024);
  socket.destroy();
});

test("write() returns false once writableHighWaterMark bytes wait unsent; 'drain' fires when the buffer is empty", LIMIT, async (t) => {
  const server = net.createServer((socket) => socket.pause()); // a peer that does not read
  const serverSocket = accepted(server);
  const client = await connect(t, await listen(t, server));
  const socket = await serverSocket;
  const drained = new Promise<number>((resolve) => client.once('drain', () => resolve(client.writableLength)));
  const chunk = Buffer.alloc(client.writableHighWaterMark / 4, 'x');
  let sent = 0;
  for (let more = true; more; ) {
    more = client.write(chunk);
    sent += chunk.length;
    assert.ok(sent < 256 * 1024 * 1024, 'write() never returned false');
  }
  // The kernel's buffers are full; Node keeps the rest in memory.
  assert.ok(client.writableLength >= client.writableHighWaterMark, `writableLength ${client.writableLength}`);

  let received = 0;
  socket.on('data', (data: Buffer) => (received += data.length));
  socket.resume();
  assert.equal(await drained, 0, "writableLength is 0 at 'drain'");
  client.end();
  await once(socket, 'end');
  assert.equal(received, sent);
});

test("writes made while still connecting wait in Node's buffer: write() returns false and 'drain' follows", LIMIT, async (t) => {
  const server = net.createServer();
  const serverSocket = accepted(server);
  const client = net.connect(await listen(t, server), HOST);
  t.after(() => client.destroy());
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

test("small writes that return true never cause 'drain'", LIMIT, async (t) => {
  const server = net.createServer();
  const serverSocket = accepted(server);
  const client = await connect(t, await listen(t, server));
  const received = readAll(await serverSocket);
  client.on('drain', mustNotCall("'drain'"));
  assert.equal(client.write('a'), true);
  assert.equal(client.write('b'), true);
  client.end('c');
  await once(client, 'finish'); // every write is done: a 'drain' would have come before this
  assert.equal((await received).toString(), 'abc');
});

test('--idle must be a whole number above 0', LIMIT, async () => {
  await assert.rejects(main({ serve: false, port: 0, host: HOST, extra: { idle: '0' } }), UsageError);
  await assert.rejects(main({ serve: false, port: 0, host: HOST, extra: { idle: 'soon' } }), UsageError);
});

test('npm run lesson 03 draws its three demos from events of that run, and leaves nothing open', LIMIT, async (t) => {
  const lines: string[] = [];
  t.mock.method(console, 'log', (line: string) => lines.push(String(line)));
  await main({ serve: false, port: 0, host: HOST, extra: {} });
  const out = lines.join('\n');
  assert.match(out, /connect\n.*ready/);
  assert.match(out, /timeout/);
  assert.match(out, /error ECONNREFUSED\n.*close hadError: true/);
  assert.match(out, /writableHighWaterMark/);
});

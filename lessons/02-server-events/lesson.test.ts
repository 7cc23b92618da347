import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test, { describe, type TestContext } from 'node:test';
import { closed, readAll, readUntil } from '../shared/read.ts';
import { HOST, ONE_READ, assertStopsReading, connect, listen, mustCall, mustNotCall, nextConnection, paused, refusedPort } from '../shared/testing.ts';
import { runScript } from '../../test/processes.ts';
import { closeGracefully, createEchoServer, main, trackSockets } from './lesson.ts';

/** Connect a client and wait until the server has accepted it too: [client, the server's socket]. */
async function connectPair(
  t: TestContext,
  server: net.Server,
  port: number,
  options: Omit<net.NetConnectOpts, 'port' | 'host' | 'path'> = {},
): Promise<[net.Socket, net.Socket]> {
  const [[accepted], client] = await Promise.all([once(server, 'connection'), connect(t, port, options)]);
  return [client, accepted as net.Socket];
}

/** A listener that resolves `done` after it has been called `times` times. */
function countdown(times: number): { listener: () => void; done: Promise<void> } {
  let left = times;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  return { listener: () => { if (--left === 0) resolve(); }, done };
}

/** A child script: a second server listens on a port the first one holds. */
function busyPortScript(handleError: boolean): string {
  return `
    const net = require('node:net');
    const first = net.createServer().listen(0, '127.0.0.1', () => {
      const second = net.createServer();
      second.listen(first.address().port, '127.0.0.1');
      ${handleError ? "second.on('error', (err) => { console.log('caught', err.code); first.close(); });" : ''}
    });`;
}

function socketPath(): string {
  return path.join(os.tmpdir(), `tcp-workbook-02-${process.pid}-${randomUUID().slice(0, 8)}.sock`);
}

const noUnixSockets = process.platform === 'win32' && 'Windows servers listen on named pipes (\\\\?\\pipe\\…), not on socket files';

/** `size` bytes of a pattern that repeats every 251 bytes, so a prefix of it can be recognised. */
function pattern(size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += 1) out[i] = i % 251;
  return out;
}

/** The codes of every 'error' that `emitter` emits from now on. */
function errorCodes(emitter: net.Socket): string[] {
  const codes: string[] = [];
  emitter.on('error', (err: NodeJS.ErrnoException) => codes.push(err.code ?? err.message));
  return codes;
}

/** An echo server whose sockets are tracked, a connected client, and the server's socket for it. */
async function trackedEcho(t: TestContext) {
  const server = createEchoServer();
  const sockets = trackSockets(server);
  const accepted = nextConnection(server);
  const client = await connect(t, await listen(t, server));
  const socket = await accepted;
  return { server, sockets, client, socket, serverErrors: errorCodes(socket) };
}

// libuv before 1.52 (Node 20 and 22) reports a reset that arrives right behind data
// the socket is still reading as a normal end (libuv pull request #4997 changed that).
const [uvMajor, uvMinor] = process.versions.uv.split('.').map(Number);
const oldLibuv = (uvMajor === 1 && uvMinor < 52) && `libuv ${process.versions.uv} (before 1.52) may report a reset that arrives right behind data as a normal end`;

// A broken lesson (or a broken closeGracefully()) makes a test wait for ever: each has a time limit.
const LIMIT = { timeout: 10_000 };

describe('lesson 02', { concurrency: true }, () => {
  // ── 'listening' ─────────────────────────────────────────────────────────────

  test("the listen callback is a 'listening' listener: registered at once, run exactly once", LIMIT, async (t) => {
    const server = net.createServer();
    t.after(() => server.close());
    const onListening = mustCall(t, () => assert.ok(server.listening));
    server.listen(0, HOST, onListening);
    assert.deepEqual(server.listeners('listening'), [onListening]);
    assert.equal(server.listening, false, 'binding has not happened yet');
    await once(server, 'listening');
    assert.deepEqual(server.listeners('listening'), [], 'a once-listener is removed after it ran');
  });

  test("server.listening right after listen(): true for listen(0) and listen({ port: 0 }), which bind inside the call; false with a host, which is looked up first; 'listening' always on a later tick", LIMIT, async (t) => {
    const forms: [string, (server: net.Server) => void, boolean][] = [
      ['listen(0)', (server) => server.listen(0), true],
      ['listen({ port: 0 })', (server) => server.listen({ port: 0 }), true],
      [`listen(0, '${HOST}')`, (server) => server.listen(0, HOST), false],
      [`listen({ port: 0, host: '${HOST}' })`, (server) => server.listen({ port: 0, host: HOST }), false],
    ];
    for (const [form, listenNow, bound] of forms) {
      const server = net.createServer();
      t.after(() => server.close());
      let emitted = false;
      server.on('listening', () => (emitted = true));
      listenNow(server);
      assert.equal(server.listening, bound, `${form}: server.listening`);
      assert.equal(typeof (server.address() as net.AddressInfo | null)?.port === 'number', bound, `${form}: address() ${JSON.stringify(server.address())}`);
      assert.equal(emitted, false, `${form}: 'listening' was emitted inside listen()`);
      await once(server, 'listening');
      assert.equal(server.listening, true);
    }
  });

  test("server.listening right after listen(path) is true too, and address() is already the path", { ...LIMIT, skip: noUnixSockets }, async (t) => {
    const file = socketPath();
    const server = net.createServer();
    t.after(() => {
      server.close();
      rmSync(file, { force: true });
    });
    let emitted = false;
    server.on('listening', () => (emitted = true));
    server.listen(file);
    assert.equal(server.listening, true);
    assert.equal(server.address(), file);
    assert.equal(emitted, false, "'listening' was emitted inside listen()");
    await once(server, 'listening');
  });

  // ── 'connection' ────────────────────────────────────────────────────────────

  test("'connection' fires once per client", LIMIT, async (t) => {
    const server = createEchoServer();
    const all = countdown(3);
    server.on('connection', mustCall(t, (socket: net.Socket) => {
      assert.ok(socket instanceof net.Socket);
      all.listener();
    }, 3));
    const port = await listen(t, server);
    await Promise.all([connect(t, port), connect(t, port), connect(t, port)]);
    await all.done;
  });

  // ── 'close' ─────────────────────────────────────────────────────────────────

  test('close() stops accepting at once: a new connect is refused while a connection is still open', LIMIT, async (t) => {
    const server = createEchoServer();
    const port = await listen(t, server);
    await connectPair(t, server, port);
    server.close();
    assert.equal(server.listening, false);
    const late = net.connect(port, HOST);
    late.on('connect', mustNotCall('connect after close()'));
    const [err] = (await once(late, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNREFUSED');
  });

  test('a connection accepted before close() keeps working after it', LIMIT, async (t) => {
    const server = createEchoServer();
    const port = await listen(t, server);
    const [client] = await connectPair(t, server, port);
    server.close();
    client.write('still there?');
    assert.equal(await readUntil(client, (text) => text.length >= 12), 'still there?');
  });

  test("'close' waits until the last open connection has ended", LIMIT, async (t) => {
    const server = createEchoServer();
    const port = await listen(t, server);
    const [first, fromFirst] = await connectPair(t, server, port);
    const [second, fromSecond] = await connectPair(t, server, port);
    let closed = false;
    server.close(mustCall(t, () => (closed = true)));

    first.end();
    await once(fromFirst, 'close');
    assert.equal(closed, false, "'close' came while a connection was still open");

    second.end();
    await once(server, 'close');
    assert.equal(fromSecond.destroyed, true);
  });

  test("'close' fires as soon as the last socket is destroyed, before that socket's own 'close'", LIMIT, async (t) => {
    const server = createEchoServer();
    const port = await listen(t, server);
    const [client, accepted] = await connectPair(t, server, port);
    const order: string[] = [];
    accepted.on('end', () => order.push('socket end'));
    accepted.on('close', () => order.push('socket close'));
    server.on('close', () => order.push(`server close (socket destroyed: ${accepted.destroyed})`));
    server.close();
    client.end();
    await Promise.all([once(server, 'close'), once(accepted, 'close')]);
    assert.deepEqual(order, ['socket end', 'server close (socket destroyed: true)', 'socket close']);
  });

  test('close() on a server that is not listening calls back with ERR_SERVER_NOT_RUNNING', LIMIT, async (t) => {
    const neverStarted = net.createServer();
    neverStarted.on('close', mustCall(t));
    const [err] = await new Promise<[NodeJS.ErrnoException | undefined]>((resolve) => neverStarted.close((e) => resolve([e])));
    assert.equal(err?.code, 'ERR_SERVER_NOT_RUNNING');

    const stopped = net.createServer();
    await listen(t, stopped);
    await new Promise<void>((resolve, reject) => stopped.close((e) => (e ? reject(e) : resolve())));
    // Closing again: an error for the callback, and the 'close' event fires a second time.
    stopped.on('close', mustCall(t));
    const [again] = await new Promise<[NodeJS.ErrnoException | undefined]>((resolve) => stopped.close((e) => resolve([e])));
    assert.equal(again?.code, 'ERR_SERVER_NOT_RUNNING');
  });

  test('server[Symbol.asyncDispose]() closes like close() and waits for connections; on a stopped server it does nothing', LIMIT, async (t) => {
    const server = createEchoServer();
    const port = await listen(t, server);
    const [client] = await connectPair(t, server, port);
    let disposed = false;
    const disposing = server[Symbol.asyncDispose]().then(() => (disposed = true));
    client.write('ping');
    await readUntil(client, (text) => text === 'ping');
    assert.equal(disposed, false, 'dispose finished while a connection was open');
    client.end();
    await disposing;
    assert.equal(server.listening, false);
    await server[Symbol.asyncDispose](); // no ERR_SERVER_NOT_RUNNING here
  });

  test('server[Symbol.asyncDispose]() exists on this Node; package.json asks for Node 20.5.0 or newer, where it first appeared', LIMIT, () => {
    assert.equal(typeof net.Server.prototype[Symbol.asyncDispose], 'function');
    const { engines } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
    assert.equal(engines.node, '>=20.5.0');
  });

  // ── 'error' ─────────────────────────────────────────────────────────────────

  test("a busy port gives 'error' with code EADDRINUSE and syscall 'listen', on a later tick: listen() does not throw", LIMIT, async (t) => {
    const port = await listen(t, net.createServer());
    const server = net.createServer();
    let emittedInsideListen = false;
    server.on('error', () => (emittedInsideListen = true));
    assert.doesNotThrow(() => server.listen(port, HOST), 'a try/catch around listen() catches nothing');
    assert.equal(emittedInsideListen, false, "'error' came before listen() returned");
    // Attached after listen() returned, and it still catches the error.
    const [err] = (await once(server, 'error')) as [NodeJS.ErrnoException & { port?: number }];
    assert.equal(err.code, 'EADDRINUSE');
    assert.equal(err.syscall, 'listen');
    assert.equal(err.port, port);
    assert.equal(server.listening, false);
  });

  test("after EADDRINUSE the listen callback has not run and no 'close' follows", LIMIT, async (t) => {
    const port = await listen(t, net.createServer());
    const server = net.createServer();
    let callbackRuns = 0;
    let closes = 0;
    server.on('close', () => (closes += 1));
    server.listen(port, HOST, () => (callbackRuns += 1));
    await once(server, 'error');
    // A 'close' would be emitted on the next tick; setImmediate runs after all of those.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(callbackRuns, 0);
    assert.equal(closes, 0);
    assert.equal(server.address(), null);
  });

  test('the same server can listen() again after EADDRINUSE, and then the old callback runs', LIMIT, async (t) => {
    const port = await listen(t, net.createServer());
    const server = net.createServer();
    t.after(() => server.close());
    let callbackRuns = 0;
    server.listen(port, HOST, () => (callbackRuns += 1));
    await once(server, 'error');
    assert.equal(callbackRuns, 0);

    server.listen(0, HOST);
    await once(server, 'listening');
    const address = server.address() as net.AddressInfo;
    assert.ok(address.port > 0 && address.port !== port, `got port ${address.port}`);
    // The first callback was still waiting for 'listening'.
    assert.equal(callbackRuns, 1);
  });

  test("with no 'error' listener, EADDRINUSE kills the process: exit code 1, \"Unhandled 'error' event\"", LIMIT, async () => {
    const { code, stderr } = await runScript(busyPortScript(false));
    assert.equal(code, 1, stderr);
    assert.match(stderr, /Unhandled 'error' event/);
    assert.match(stderr, /EADDRINUSE/);
  });

  test("with an 'error' listener, the same busy port is just an event and the process ends normally", LIMIT, async () => {
    const { code, stdout, stderr } = await runScript(busyPortScript(true));
    assert.equal(code, 0, stderr);
    assert.equal(stdout, 'caught EADDRINUSE\n');
  });

  // ── Unix domain sockets ─────────────────────────────────────────────────────

  test('listen(path) on a Unix domain socket: address() is the path, net.connect(path) reaches it', { ...LIMIT, skip: noUnixSockets }, async (t) => {
    const file = socketPath();
    const server = createEchoServer();
    t.after(() => {
      server.close();
      rmSync(file, { force: true });
    });
    server.on('listening', mustCall(t));
    server.listen(file);
    await once(server, 'listening');
    assert.equal(server.address(), file);

    const client = net.connect(file);
    t.after(() => client.destroy());
    await once(client, 'connect');
    client.end('over a socket file');
    assert.equal((await readAll(client)).toString(), 'over a socket file');
  });

  test('closing a Unix socket server removes its file; a leftover file makes listen() fail with EADDRINUSE', { ...LIMIT, skip: noUnixSockets }, async (t) => {
    const file = socketPath();
    t.after(() => rmSync(file, { force: true }));
    const server = net.createServer();
    server.listen(file);
    await once(server, 'listening');
    assert.ok(existsSync(file));
    await new Promise((resolve) => server.close(resolve));
    assert.equal(existsSync(file), false);

    writeFileSync(file, ''); // as if a crashed server had left it behind
    const blocked = net.createServer();
    let emittedInsideListen = false;
    blocked.on('error', () => (emittedInsideListen = true));
    blocked.listen(file);
    assert.equal(emittedInsideListen, false, "here too 'error' comes on a later tick");
    const [err] = (await once(blocked, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'EADDRINUSE');
  });

  // ── closing gracefully ──────────────────────────────────────────────────────

  test('net.Server has no closeAllConnections(); http.Server has', LIMIT, () => {
    assert.equal('closeAllConnections' in net.Server.prototype, false);
    assert.equal(typeof http.Server.prototype.closeAllConnections, 'function');
  });

  test('closeGracefully() ends every open socket: each client reads its FIN (end)', LIMIT, async (t) => {
    const server = createEchoServer();
    const sockets = trackSockets(server);
    const port = await listen(t, server);
    const [first, fromFirst] = await connectPair(t, server, port);
    const [second, fromSecond] = await connectPair(t, server, port);
    assert.equal(sockets.size, 2);
    const reads = Promise.all([readAll(first), readAll(second)]);
    const socketsClosed = Promise.all([once(fromFirst, 'close'), once(fromSecond, 'close')]);
    await closeGracefully(server, sockets);
    await reads;
    assert.equal(server.listening, false);
    // Ended with end() (a FIN), not cut off by the grace period's destroy().
    assert.equal(fromFirst.writableEnded, true);
    assert.equal(fromSecond.writableEnded, true);
    // trackSockets() forgets each socket on its 'close'.
    await socketsClosed;
    assert.equal(sockets.size, 0);
  });

  test('closeGracefully() resolves only after every client has closed its side', LIMIT, async (t) => {
    const server = createEchoServer();
    const sockets = trackSockets(server);
    const port = await listen(t, server);
    // allowHalfOpen: this client does not answer the server's FIN until we say so.
    const [client, accepted] = await connectPair(t, server, port, { allowHalfOpen: true });
    const order: string[] = [];
    const closing = closeGracefully(server, sockets, 60_000).then(() => order.push('resolved'));
    await readAll(client);
    order.push('client end()');
    client.end();
    await closing;
    assert.deepEqual(order, ['client end()', 'resolved']);
    assert.equal(accepted.destroyed, true);
  });

  test('closeGracefully() destroys a peer that never closes its side once graceMs have passed', LIMIT, async (t) => {
    const server = createEchoServer();
    const sockets = trackSockets(server);
    const port = await listen(t, server);
    const [client, accepted] = await connectPair(t, server, port, { allowHalfOpen: true });
    const graceMs = 100;
    const started = performance.now();
    await closeGracefully(server, sockets, graceMs);
    const waited = performance.now() - started;
    assert.equal(accepted.destroyed, true);
    assert.equal(client.writableEnded, false, 'the client never ended its side');
    assert.ok(waited >= graceMs * 0.9, `resolved after ${waited.toFixed(1)} ms, before the ${graceMs} ms grace period`);
  });

  test('closeGracefully() clears its graceMs timer once the server has closed', LIMIT, async (t) => {
    // Spies that call the real functions. A graceMs no other test uses tells our timer apart.
    const graceMs = 987_654;
    const timers = globalThis as unknown as Record<'setTimeout' | 'clearTimeout', (...args: unknown[]) => unknown>;
    const started = t.mock.method(timers, 'setTimeout');
    const cleared = t.mock.method(timers, 'clearTimeout');
    const server = createEchoServer();
    const sockets = trackSockets(server);
    const port = await listen(t, server);
    const [client] = await connectPair(t, server, port);
    client.resume(); // reads the FIN, and answers it with its own
    await closeGracefully(server, sockets, graceMs);
    const timer = started.mock.calls.find((call) => call.arguments[1] === graceMs)?.result;
    assert.ok(timer, 'closeGracefully() started a graceMs timer');
    assert.ok(cleared.mock.calls.some((call) => call.arguments[0] === timer), 'and cleared it: a timer left running would keep the process alive for graceMs');
  });

  test('closeGracefully() lets a reply in flight arrive whole, then ends the connection; the echo writes nothing after end()', LIMIT, async (t) => {
    const { server, sockets, client, socket, serverErrors } = await trackedEcho(t);
    client.pause(); // it reads nothing until the shutdown has begun
    // Send whole patterns until the echo has to wait for 'drain': then a reply is in flight.
    const piece = pattern(251 * 4096);
    let echoWaits = false;
    const waiting = paused(socket).then(() => (echoWaits = true));
    while (!echoWaits) if (!client.write(piece)) await Promise.race([once(client, 'drain'), waiting]);
    assert.ok(socket.writableLength > 0, 'part of the echo is still in Node');
    const clientErrors = errorCodes(client);
    const received = readAll(client);
    const closing = closeGracefully(server, sockets, 60_000);
    client.resume();
    const echo = await received; // everything up to the server's FIN; the client then sends its own
    await closing;
    assert.equal(echo.length, socket.bytesWritten, 'every byte the echo wrote arrived');
    assert.ok(echo.equals(pattern(echo.length)), 'whole and in order: the start of what the client sent');
    assert.deepEqual(serverErrors, [], 'no write after end()');
    assert.deepEqual(clientErrors, [], 'a FIN, not a reset');
  });

  test('closeGracefully() while a client keeps sending and reading: only whole echoes, then a FIN, nothing written after end()', LIMIT, async (t) => {
    const { server, sockets, client, socket, serverErrors } = await trackedEcho(t);
    const received = readAll(client);
    const piece = pattern(64 * 1024);
    let sent = 0;
    const sending = (async () => {
      // Each piece starts the pattern again, so the echo is the pattern repeated.
      while (!client.readableEnded && !client.writableEnded && !client.destroyed) {
        sent += piece.length;
        if (!client.write(piece)) await Promise.race([once(client, 'drain'), received]);
      }
    })();
    await once(socket, 'data');
    const closing = closeGracefully(server, sockets, 60_000);
    const echo = await received;
    await Promise.all([sending, closing]);
    assert.ok(echo.length <= sent);
    for (let at = 0; at < echo.length; at += piece.length) {
      const part = echo.subarray(at, at + piece.length);
      assert.ok(part.equals(piece.subarray(0, part.length)), `the echo differs at byte ${at}`);
    }
    assert.deepEqual(serverErrors, [], 'no write after end()');
  });

  test('a client that never reads: the echo stops reading, holding at most writableHighWaterMark + one read (64 KiB) to send and readableHighWaterMark + one read received', LIMIT, async (t) => {
    const server = createEchoServer();
    const accepted = nextConnection(server);
    const client = await connect(t, await listen(t, server));
    const socket = await accepted;
    const total = 16 * 1024 * 1024;
    const sender = await assertStopsReading(t, client, socket, pattern(ONE_READ), total, ONE_READ);
    // Now the client reads: the echo resumes on 'drain', and every byte comes back.
    let echoed = 0;
    client.on('data', (chunk: Buffer) => (echoed += chunk.length));
    client.resume();
    await sender.done;
    client.end();
    await once(client, 'end');
    assert.equal(echoed, total);
  });

  // ── destroy() and resetAndDestroy() ─────────────────────────────────────────

  /** A server that writes `size` bytes to a client that is not reading, then calls `stop` on its socket. */
  async function stopMidReply(t: TestContext, size: number, stop: (socket: net.Socket) => void) {
    const server = net.createServer();
    const accepted = nextConnection(server);
    const client = await connect(t, await listen(t, server));
    const socket = await accepted;
    socket.on('error', () => {});
    client.pause();
    socket.write(Buffer.alloc(size, 'x'));
    const heldByNode = socket.writableLength;
    let received = 0;
    client.on('data', (chunk: Buffer) => (received += chunk.length));
    let ended = false;
    client.on('end', () => (ended = true));
    let error: string | undefined;
    client.on('error', (err: NodeJS.ErrnoException) => (error = err.code));
    stop(socket);
    client.resume();
    await closed(client);
    return { received, ended, error, heldByNode };
  }

  test("destroy() mid-reply: the bytes the kernel took arrive, then a normal FIN ('end', no error): the client cannot tell the reply was cut off", LIMIT, async (t) => {
    const size = 16 * 1024 * 1024; // far more than the kernel holds: part of it is still in Node
    const { received, ended, error, heldByNode } = await stopMidReply(t, size, (socket) => socket.destroy());
    assert.equal(heldByNode, size);
    assert.ok(received > 0 && received < size, `received ${received} of ${size} bytes`);
    assert.equal(ended, true, "the client got 'end', as after a whole reply");
    assert.equal(error, undefined);
  });

  test('resetAndDestroy() mid-reply: the client gets ECONNRESET, an abort it can see', { ...LIMIT, skip: oldLibuv }, async (t) => {
    const size = 16 * 1024 * 1024;
    const { received, ended, error } = await stopMidReply(t, size, (socket) => socket.resetAndDestroy());
    assert.ok(received < size, `received ${received} of ${size} bytes`);
    assert.equal(error, 'ECONNRESET');
    assert.equal(ended, false);
  });

  test('resetAndDestroy() once the client has read everything: ECONNRESET on every Node', LIMIT, async (t) => {
    const server = net.createServer();
    const accepted = nextConnection(server);
    const client = await connect(t, await listen(t, server));
    const socket = await accepted;
    socket.on('error', () => {});
    socket.write('partial reply');
    await readUntil(client, (text) => text === 'partial reply');
    let ended = false;
    client.on('end', () => (ended = true));
    const failed = once(client, 'error');
    socket.resetAndDestroy();
    const [err] = (await failed) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNRESET');
    assert.equal(ended, false);
  });

  test('destroy() while bytes from the client are still unread sends a reset: the client gets ECONNRESET', LIMIT, async (t) => {
    // pauseOnConnect: the server never reads, so what the client sends stays in the kernel.
    const server = net.createServer({ pauseOnConnect: true });
    const accepted = nextConnection(server);
    const client = await connect(t, await listen(t, server));
    const socket = await accepted;
    await new Promise<void>((resolve) => client.write('never read', () => resolve()));
    const failed = once(client, 'error');
    socket.destroy();
    const [err] = (await failed) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNRESET');
  });

  // ── connect errors ──────────────────────────────────────────────────────────

  test("a refused connect to a name with two addresses is an AggregateError with an empty message: read err.code", LIMIT, async () => {
    const port = await refusedPort();
    // A name that resolves to 127.0.0.1 and ::1, as 'localhost' does on many machines.
    const lookup = ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
      if (options.all) callback(null, [{ address: HOST, family: 4 }, { address: '::1', family: 6 }]);
      else callback(null, HOST, 4);
    }) as unknown as net.LookupFunction;
    // A long attempt timeout: on a loaded machine the default 250 ms could pass first (ETIMEDOUT).
    const client = net.connect({ port, host: 'two-addresses.test', lookup, autoSelectFamily: true, autoSelectFamilyAttemptTimeout: 10_000 });
    const [err] = (await once(client, 'error')) as [NodeJS.ErrnoException & { errors?: NodeJS.ErrnoException[] }];
    assert.equal(net.getDefaultAutoSelectFamily(), true, 'autoSelectFamily is on by default');
    assert.equal(err.name, 'AggregateError');
    assert.equal(err.message, '');
    assert.equal(err.code, 'ECONNREFUSED');
    assert.deepEqual(err.errors?.map((e) => e.code), ['ECONNREFUSED', 'ECONNREFUSED']);
  });

  // ── the lesson script ───────────────────────────────────────────────────────

  test('the lesson script draws listening, EADDRINUSE, two connections, close(), a refused client and the final close', LIMIT, async (t) => {
    const log = t.mock.method(console, 'log', () => {});
    await main({ serve: false, port: 0, host: HOST, extra: {} });
    const output = log.mock.calls.map((call) => call.arguments.join(' ')).join('\n');
    const expected = [
      /listening 127\.0\.0\.1:\d+/,
      /2nd error EADDRINUSE \(listen\)/,
      /connection from port \d+/,
      /connection from port \d+/,
      /close\(\) 1 connection still open/,
      /C error ECONNREFUSED/,
      /A data "still there\?" 12 B/,
      /close the server itself/,
    ];
    let from = 0;
    for (const pattern of expected) {
      const match = pattern.exec(output.slice(from));
      assert.ok(match, `expected ${pattern} after position ${from} in:\n${output}`);
      from += match.index + match[0].length;
    }
  });
});

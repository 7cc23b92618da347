import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test, { type TestContext } from 'node:test';
import { readAll, readUntil } from '../shared/read.ts';
import { HOST, connect, listen, mustCall, mustNotCall } from '../shared/testing.ts';
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

/** Node's uncaught-exception output, from a child process running `script`. */
async function runChild(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // The timeout is only a safety net: the script ends by itself long before.
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
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

// ── 'listening' ─────────────────────────────────────────────────────────────

test("the listen callback is a 'listening' listener: registered at once, run exactly once", async (t) => {
  const server = net.createServer();
  t.after(() => server.close());
  const onListening = mustCall(t, () => assert.ok(server.listening));
  server.listen(0, HOST, onListening);
  assert.deepEqual(server.listeners('listening'), [onListening]);
  assert.equal(server.listening, false, 'binding has not happened yet');
  await once(server, 'listening');
  assert.deepEqual(server.listeners('listening'), [], 'a once-listener is removed after it ran');
});

// ── 'connection' ────────────────────────────────────────────────────────────

test("'connection' fires once per client", async (t) => {
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

test('close() stops accepting at once: a new connect is refused while a connection is still open', async (t) => {
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

test('a connection accepted before close() keeps working after it', async (t) => {
  const server = createEchoServer();
  const port = await listen(t, server);
  const [client] = await connectPair(t, server, port);
  server.close();
  client.write('still there?');
  assert.equal(await readUntil(client, (text) => text.length >= 12), 'still there?');
});

test("'close' waits until the last open connection has ended", async (t) => {
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

test("'close' fires as soon as the last socket is destroyed, before that socket's own 'close'", async (t) => {
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

test('close() on a server that is not listening calls back with ERR_SERVER_NOT_RUNNING', async (t) => {
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

test('server[Symbol.asyncDispose]() closes like close() and waits for connections; on a stopped server it does nothing', async (t) => {
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

// ── 'error' ─────────────────────────────────────────────────────────────────

test("a busy port gives 'error' with code EADDRINUSE and syscall 'listen', on a later tick", async (t) => {
  const port = await listen(t, net.createServer());
  const server = net.createServer();
  let returned = false;
  server.listen(port, HOST);
  returned = true;
  // Attached after listen() returned, and it still catches the error.
  const [err] = (await once(server, 'error')) as [NodeJS.ErrnoException & { port?: number }];
  assert.equal(returned, true);
  assert.equal(err.code, 'EADDRINUSE');
  assert.equal(err.syscall, 'listen');
  assert.equal(err.port, port);
  assert.equal(server.listening, false);
});

test("after EADDRINUSE the listen callback has not run and no 'close' follows", async (t) => {
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

test('the same server can listen() again after EADDRINUSE, and then the old callback runs', async (t) => {
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

test("with no 'error' listener, EADDRINUSE kills the process: exit code 1, \"Unhandled 'error' event\"", async () => {
  const { code, stderr } = await runChild(busyPortScript(false));
  assert.equal(code, 1, stderr);
  assert.match(stderr, /Unhandled 'error' event/);
  assert.match(stderr, /EADDRINUSE/);
});

test("with an 'error' listener, the same busy port is just an event and the process ends normally", async () => {
  const { code, stdout, stderr } = await runChild(busyPortScript(true));
  assert.equal(code, 0, stderr);
  assert.equal(stdout, 'caught EADDRINUSE\n');
});

// ── Unix domain sockets ─────────────────────────────────────────────────────

test('listen(path) on a Unix domain socket: address() is the path, net.connect(path) reaches it', { skip: noUnixSockets }, async (t) => {
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

test('closing a Unix socket server removes its file; a leftover file makes listen() fail with EADDRINUSE', { skip: noUnixSockets }, async (t) => {
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
  blocked.listen(file);
  const [err] = (await once(blocked, 'error')) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'EADDRINUSE');
});

// ── closing gracefully ──────────────────────────────────────────────────────

test('net.Server has no closeAllConnections(); http.Server has', () => {
  assert.equal('closeAllConnections' in net.Server.prototype, false);
  assert.equal(typeof http.Server.prototype.closeAllConnections, 'function');
});

// Broken versions of closeGracefully() would hang these tests, so each one has a time limit.
const LIMIT = { timeout: 10_000 };

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

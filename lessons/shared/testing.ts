// Small helpers for the lesson tests. Every server listens on port 0 on
// 127.0.0.1, every handle is closed when its test ends, and nothing sleeps.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import type { TestContext } from 'node:test';

export const HOST = '127.0.0.1';
export { refusedPort, unboundUdpPort } from './ports.ts';

interface Pending {
  cleanups: (() => unknown)[];
  checks: (() => void)[];
}
const pending = new WeakMap<TestContext, Pending>();

/**
 * One after-hook per test: it runs every cleanup first (servers closed, sockets
 * destroyed), and only then the mustCall counts. A failed count never skips a cleanup.
 */
function registry(t: TestContext): Pending {
  let entry = pending.get(t);
  if (!entry) {
    const created: Pending = { cleanups: [], checks: [] };
    entry = created;
    pending.set(t, created);
    t.after(async () => {
      for (const cleanup of created.cleanups.reverse()) await cleanup();
      for (const check of created.checks) check();
    });
  }
  return entry;
}

/** Run `fn` when the test ends, before the mustCall counts are checked. */
export function onCleanup(t: TestContext, fn: () => unknown): void {
  registry(t).cleanups.push(fn);
}

/**
 * Wrap a callback that must run exactly `times` times before the test ends:
 * zero calls or one too many fail the test (like Node's common.mustCall).
 */
export function mustCall<A extends unknown[], R>(
  t: TestContext,
  fn: (...args: A) => R = (() => undefined) as (...args: A) => R,
  times = 1,
): (...args: A) => R {
  let calls = 0;
  const where = new Error('mustCall').stack?.split('\n')[2]?.trim() ?? '';
  registry(t).checks.push(() => assert.equal(calls, times, `callback expected ${times} call(s), got ${calls} (${where})`));
  return (...args: A) => {
    calls += 1;
    return fn(...args);
  };
}

/** A callback that must never run. */
export function mustNotCall(name = 'callback'): (...args: unknown[]) => void {
  return (...args) => assert.fail(`${name} must not be called (called with ${args.map(String).join(', ')})`);
}

/**
 * Listen on port 0 on 127.0.0.1 and return the real port. When the test ends,
 * every socket the server accepted is destroyed and the server is closed.
 */
export async function listen(t: TestContext, server: net.Server): Promise<number> {
  const accepted = new Set<net.Socket>();
  server.on('connection', (socket) => {
    accepted.add(socket);
    socket.once('close', () => accepted.delete(socket));
  });
  onCleanup(t, async () => {
    for (const socket of accepted) socket.destroy();
    if (server.listening) await new Promise((resolve) => server.close(resolve));
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/** Connect to 127.0.0.1:port; the socket is destroyed when the test ends. */
export async function connect(
  t: TestContext,
  port: number,
  options: Omit<net.TcpNetConnectOpts, 'port' | 'host'> = {},
): Promise<net.Socket> {
  const socket = net.connect({ ...options, port, host: HOST });
  onCleanup(t, () => socket.destroy());
  await once(socket, 'connect');
  return socket;
}

/** The next socket `server` accepts. Call it before the client connects. */
export function nextConnection(server: net.Server): Promise<net.Socket> {
  return new Promise((resolve) => server.once('connection', resolve));
}

/**
 * Resolves when `socket` is paused: when the code under test calls pause()
 * (directly, or through pipe() when the destination is full). A server that
 * respects back-pressure pauses reading while a reply cannot be written.
 */
export function paused(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.readableFlowing === false) return resolve();
    const pause = socket.pause;
    socket.pause = function (this: net.Socket) {
      socket.pause = pause;
      resolve();
      return pause.call(this);
    };
  });
}

/**
 * Write `chunk` again and again, `total` bytes in all, and never read: the
 * client of a back-pressure test. It waits for 'drain' whenever write() says
 * so, so it stalls once the server stops reading. `sent()` says how far it got;
 * `stop()` ends it after the write in progress; `done` resolves when it has
 * written everything, was stopped, or its socket closed.
 */
export function sendWithoutReading(client: net.Socket, chunk: Buffer, total: number): { sent: () => number; stop: () => void; done: Promise<void> } {
  let sent = 0;
  let stopped = false;
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  const done = (async () => {
    while (sent < total && !stopped && !client.destroyed) {
      const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
      sent += piece.length;
      if (!client.write(piece)) await Promise.race([once(client, 'drain').catch(() => {}), closed]);
    }
  })();
  return { sent: () => sent, stop: () => void (stopped = true), done };
}

/** The most a socket reads at once: libuv reads into a buffer of 64 KiB. */
export const ONE_READ = 64 * 1024;

/**
 * Wait until `done()` is true, looking again every millisecond: for a state
 * that no event announces (how full a buffer is). A 1 ms timer, not
 * setImmediate: the event loop waits for I/O in between instead of spinning.
 * Pass the test's `t.signal` to give up when the test ends (its deadline
 * passed), so that a claim that turns false never hangs the file.
 */
export async function until(done: () => boolean, signal?: AbortSignal): Promise<void> {
  while (!done()) {
    if (signal?.aborted) throw new Error('the test ended while waiting');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/**
 * The first half of every back-pressure test. `client` (not reading: new, or
 * paused) sends `chunk` again and again, `total` bytes: far more than the
 * kernels' buffers on both sides hold. The server must pause `socket`, its
 * side, before all of it is sent. Once Node has filled its read buffer, the
 * socket may hold at most writableHighWaterMark + `answersToOneRead` to send,
 * and readableHighWaterMark + ONE_READ received. Returns the sender, still
 * running: stop it, or let the client read, to see every answer arrive.
 */
export async function assertStopsReading(
  t: TestContext,
  client: net.Socket,
  socket: net.Socket,
  chunk: Buffer,
  total: number,
  answersToOneRead: number,
): Promise<ReturnType<typeof sendWithoutReading>> {
  const sender = sendWithoutReading(client, chunk, total);
  let sentAll = false;
  void sender.done.then(() => (sentAll = true));
  const first = await Promise.race([paused(socket).then(() => 'paused'), sender.done.then(() => 'sent all')]);
  assert.equal(first, 'paused', `the client sent all ${sender.sent()} B and the server never stopped reading: what it owes piles up in memory`);
  // Paused, Node still reads until its buffer holds readableHighWaterMark bytes: wait for that.
  await until(() => socket.readableLength >= socket.readableHighWaterMark || sentAll);
  const detail =
    `after the client sent ${sender.sent()} B: writableLength ${socket.writableLength} (high-water mark ${socket.writableHighWaterMark}), ` +
    `readableLength ${socket.readableLength} (high-water mark ${socket.readableHighWaterMark})`;
  t.diagnostic(detail);
  assert.ok(socket.writableLength <= socket.writableHighWaterMark + answersToOneRead, `expected writableLength ≤ ${socket.writableHighWaterMark} + ${answersToOneRead}; ${detail}`);
  assert.ok(socket.readableLength <= socket.readableHighWaterMark + ONE_READ, `expected readableLength ≤ ${socket.readableHighWaterMark} + ${ONE_READ}; ${detail}`);
  assert.ok(sender.sent() < total, 'the client is stalled too');
  return sender;
}

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { describe, test, type TestContext } from 'node:test';
import { UsageError } from '../shared/cli.ts';
import { closed, readAll } from '../shared/read.ts';
import { HOST, ONE_READ, assertStopsReading, connect, listen, mustCall, mustNotCall, nextConnection, onCleanup, refusedPort } from '../shared/testing.ts';
import { start } from '../../test/processes.ts';
import { BusyServer, createEchoServer, main, sharedClock, ssUnavailable, stateOf, statesWhen, tcpStates, type SocketState } from './lesson.ts';

// The kernel's view comes from ss: Linux only. Elsewhere those tests skip and say so.
const noSs = (await ssUnavailable()) ?? false;
const notLinux = process.platform !== 'linux' && `the listen queue and SYN retries are measured on Linux only (this is ${process.platform})`;
const noPython =
  (noSs || spawnSync('python3', ['-c', 'print(1)']).status !== 0) &&
  (noSs || 'python3 is not installed: it plays a program that binds without SO_REUSEADDR');
const windows = process.platform === 'win32' && 'libuv does not set SO_REUSEADDR on Windows; not measured there';
/** A server from the lesson, listening on port 0; its accepted sockets are closed when the test ends. */
async function echo(t: TestContext, options: Parameters<typeof createEchoServer>[0] = {}): Promise<{ server: net.Server; port: number }> {
  const server = createEchoServer(options);
  return { server, port: await listen(t, server) };
}

/** The busy server in its worker thread; stopped when the test ends. */
async function busyServer(t: TestContext, backlog?: number): Promise<BusyServer> {
  const busy = await BusyServer.start(HOST, backlog);
  onCleanup(t, () => busy.close());
  return busy;
}

/** A client whose connect() has been called, not awaited; destroyed when the test ends. */
function dial(t: TestContext, port: number, options: Partial<net.TcpNetConnectOpts> = {}): net.Socket {
  const socket = track(net.connect({ ...options, port, host: options.host ?? HOST }));
  onCleanup(t, () => socket.destroy());
  return socket;
}

// 'close' may come before a test gets to wait for it: watch from the start.
const closes = new WeakMap<net.Socket, Promise<boolean>>();
function track<T extends net.Socket>(socket: T): T {
  if (!closes.has(socket)) closes.set(socket, closed(socket));
  return socket;
}

/** Resolves with hadError once `socket` (tracked since it was made) has emitted 'close'. */
function whenClosed(socket: net.Socket): Promise<boolean> {
  const promise = closes.get(socket);
  assert.ok(promise, 'the test forgot to track() this socket');
  return promise;
}

/** The next socket `server` accepts, tracked. */
function acceptNext(server: net.Server): Promise<net.Socket> {
  return nextConnection(server).then(track);
}

const timeWaitOf = (states: SocketState[] | undefined, localPort: number, peerPort: number) =>
  states?.find((s) => s.localPort === localPort && s.peerPort === peerPort && s.state === 'TIME-WAIT');

// A broken claim can leave a test waiting for an event that never comes: fail it instead of hanging.
describe('lesson 00', { concurrency: true, timeout: 20_000 }, () => {
  // ── the handshake and the listen queue ─────────────────────────────────────

  test("a client's 'connect' fires while the server's event loop is blocked; 'connection' and the client's bytes come once it runs again", async (t) => {
    const busy = await busyServer(t);
    await busy.block();
    const client = dial(t, busy.port);
    client.on('error', mustNotCall("the client's 'error'"));
    await once(client, 'connect'); // the kernel did the handshake: no JavaScript of the server has run
    const connectedAt = sharedClock();
    client.write('hello\n');
    busy.release();
    const data = await busy.next((e) => e.event === 'data');
    const blocked = busy.events.find((e) => e.event === 'blocked') as { at: number };
    const free = busy.events.find((e) => e.event === 'free') as { at: number };
    // The server's thread was inside its blocking call from `blocked.at` to `free.at`.
    assert.ok(blocked.at < connectedAt && connectedAt < free.at, `blocked ${blocked.at}, connect ${connectedAt}, free ${free.at}: 'connect' came while the server was blocked`);
    const order = busy.events.map((e) => e.event);
    assert.deepEqual(order.slice(0, 4), ['listening', 'blocked', 'free', 'connection'], "the server's 'connection' came only once it ran again");
    assert.deepEqual(data, { event: 'data', from: client.localPort, text: 'hello\n' }, 'the bytes waited in the kernel, whole');
    client.resume(); // read the echo and the server's FIN
    client.end();
    await whenClosed(client);
  });

  test(
    'with listen({ backlog: 1 }) Linux queues 2 connections (ss: Recv-Q 2, Send-Q 1); a third SYN is dropped, not refused: that client stays in SYN-SENT, gets no error, and connects once its SYN is sent again, about 1 s later',
    { skip: notLinux || noSs },
    async (t) => {
      const busy = await busyServer(t, 1);
      await busy.block();
      const took: number[] = [];
      for (const _ of [1, 2]) {
        const started = performance.now();
        const client = dial(t, busy.port);
        await once(client, 'connect');
        took.push(performance.now() - started);
      }
      const started = performance.now();
      const third = dial(t, busy.port);
      third.on('error', mustNotCall("the third client's 'error'"));
      const states = await statesWhen(busy.port, (all) => all.some((s) => s.state === 'SYN-SENT' && s.peerPort === busy.port));
      const listener = states?.find((s) => s.state === 'LISTEN');
      assert.deepEqual([listener?.recvQ, listener?.sendQ], [2, 1], 'the listening socket: queued connections and backlog');
      assert.equal(states?.filter((s) => s.state === 'SYN-SENT').length, 1, `the third client is still in SYN-SENT: ${JSON.stringify(states)}`);
      assert.equal(third.connecting, true, 'no connect yet');
      busy.release();
      await once(third, 'connect');
      const waited = performance.now() - started;
      t.diagnostic(`connect: ${took.map((ms) => ms.toFixed(1)).join(' ms, ')} ms while the server was blocked; the third one ${waited.toFixed(0)} ms`);
      // The first SYN retransmission comes 1 s after the SYN (the initial retransmission timeout), never earlier.
      assert.ok(waited > 900, `the third client connected after ${waited.toFixed(0)} ms: its first SYN was not dropped`);
    },
  );

  test('Node passes backlog 511 by default and for backlog 0; Linux caps a larger one at net.core.somaxconn', { skip: noSs }, async (t) => {
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    const backlogs: (number | undefined)[] = [];
    for (const backlog of [undefined, 0, 100_000]) {
      const server = net.createServer();
      onCleanup(t, () => new Promise((resolve) => server.close(resolve)));
      server.listen({ port: 0, host: HOST, backlog });
      await once(server, 'listening');
      const states = await tcpStates((server.address() as net.AddressInfo).port);
      backlogs.push(states?.find((s) => s.state === 'LISTEN')?.sendQ);
    }
    assert.deepEqual(backlogs, [511, 511, Math.min(100_000, somaxconn)]);
  });

  test("a connection is the two ends' (address, port): the client's localPort is the server socket's remotePort, and the other way round", async (t) => {
    const { server, port } = await echo(t);
    const accepted = acceptNext(server);
    const client = track(await connect(t, port));
    const socket = await accepted;
    assert.deepEqual([socket.remoteAddress, socket.remotePort], [client.localAddress, client.localPort]);
    assert.deepEqual([client.remoteAddress, client.remotePort], [socket.localAddress, socket.localPort]);
    assert.equal(client.remotePort, port);
  });

  // ── FIN, TIME-WAIT, CLOSE-WAIT ─────────────────────────────────────────────

  test("end() sends a FIN after the data before it: the peer gets the data, then 'end'; by default Node then ends the peer's side too; both 'close' with hadError false", async (t) => {
    // A plain server that only reads: whatever ends its side is Node's default (allowHalfOpen: false).
    const server = net.createServer((socket) => socket.resume());
    const port = await listen(t, server);
    const accepted = acceptNext(server);
    const client = track(await connect(t, port));
    const socket = await accepted;
    const seen: string[] = [];
    socket.on('data', (chunk: Buffer) => seen.push(`data ${chunk}`));
    socket.on('end', () => seen.push('end'));
    socket.on('close', mustCall(t, (hadError: boolean) => assert.equal(hadError, false)));
    client.on('close', mustCall(t, (hadError: boolean) => assert.equal(hadError, false)));
    const fromServer = readAll(client); // resolves on the server's FIN
    client.end('last words');
    assert.equal((await fromServer).length, 0, "the server's FIN came, with no data before it");
    await Promise.all([whenClosed(client), whenClosed(socket)]);
    assert.deepEqual(seen.slice(-1), ['end']);
    assert.equal(seen.slice(0, -1).join('').replace(/data /g, ''), 'last words');
  });

  test("after the client's FIN a server with allowHalfOpen: true can still write, and the client still reads it", async (t) => {
    const { server, port } = await echo(t, { halfOpen: true });
    const accepted = acceptNext(server);
    const client = track(await connect(t, port));
    const socket = await accepted;
    const all = readAll(client);
    client.end();
    await once(socket, 'end');
    assert.equal(socket.writable, true, 'the half-open side is still writable');
    socket.end('still here\n');
    assert.equal((await all).toString(), 'still here\n');
  });

  test("the side that sends the first FIN ends in TIME-WAIT with 50 to 60 s left; its Node socket has closed already", { skip: noSs }, async (t) => {
    const { server, port } = await echo(t);
    const accepted = acceptNext(server);
    const client = track(await connect(t, port));
    const clientPort = client.localPort!;
    client.end();
    await Promise.all([whenClosed(client), whenClosed(await accepted)]);
    assert.equal(client.destroyed, true);
    const waiting = timeWaitOf(await statesWhen(port, (all) => !!timeWaitOf(all, clientPort, port)), clientPort, port);
    assert.ok(waiting, "the client's side of the connection is in TIME-WAIT");
    assert.ok(waiting.timeWaitLeft! > 50 && waiting.timeWaitLeft! <= 60, `TIME-WAIT has ${waiting.timeWaitLeft} s left`);
    const serverSide = (await tcpStates(port))?.find((s) => s.localPort === port && s.peerPort === clientPort);
    assert.equal(serverSide, undefined, `the server's side is gone: ${JSON.stringify(serverSide)}`);
  });

  test("with --idle the server ends a quiet connection first: the client gets the server's FIN before it sends its own", async (t) => {
    const { port } = await echo(t, { idleMs: 20 });
    const client = track(await connect(t, port));
    client.resume();
    let ourSideEnded: boolean | undefined;
    client.once('end', () => (ourSideEnded = client.writableEnded)); // read at once: Node ends our side next
    await whenClosed(client);
    assert.equal(ourSideEnded, false, "the server's FIN came while the client had not ended its side");
  });

  test("when the server ends first, the TIME-WAIT is on the server's side (its listening port)", { skip: noSs }, async (t) => {
    const { port } = await echo(t, { idleMs: 20 });
    const client = track(await connect(t, port));
    const clientPort = client.localPort!;
    client.resume();
    await whenClosed(client);
    const states = await statesWhen(port, (all) => !!timeWaitOf(all, port, clientPort));
    assert.ok(timeWaitOf(states, port, clientPort), `states: ${JSON.stringify(states)}`);
    assert.equal(stateOf(states, clientPort, port), undefined, "nothing left on the client's side");
  });

  test('a server listens again on its port at once, while connections from its last run wait in TIME-WAIT (libuv sets SO_REUSEADDR)', { skip: windows }, async (t) => {
    const { server, port } = await echo(t);
    const accepted = acceptNext(server);
    const client = track(await connect(t, port));
    client.resume();
    const clientPort = client.localPort!;
    (await accepted).end(); // the server closes first: the TIME-WAIT holds the server's port
    await whenClosed(client);
    if (!noSs) assert.ok(timeWaitOf(await statesWhen(port, (all) => !!timeWaitOf(all, port, clientPort)), port, clientPort), 'a TIME-WAIT on the port');
    await new Promise((resolve) => server.close(resolve));
    const again = net.createServer();
    onCleanup(t, () => new Promise((resolve) => again.close(resolve)));
    again.on('error', mustNotCall("the restarted server's 'error'"));
    again.listen(port, HOST);
    await once(again, 'listening');
    assert.equal((again.address() as net.AddressInfo).port, port);
  });

  test('without SO_REUSEADDR, a program cannot listen on a port while a TIME-WAIT holds it (python3 binding plainly gets EADDRINUSE)', { skip: noPython }, async (t) => {
    const { server, port } = await echo(t);
    const accepted = acceptNext(server);
    const client = track(await connect(t, port));
    client.resume();
    const clientPort = client.localPort!;
    (await accepted).end();
    await whenClosed(client);
    await new Promise((resolve) => server.close(resolve));
    assert.ok(timeWaitOf(await statesWhen(port, (all) => !!timeWaitOf(all, port, clientPort)), port, clientPort), 'a TIME-WAIT on the port');
    const bind = (reuse: boolean) =>
      spawnSync('python3', ['-c', `import socket\ns = socket.socket()\n${reuse ? 's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n' : ''}s.bind(('${HOST}', ${port}))\ns.listen()`], { encoding: 'utf8' });
    const plain = bind(false);
    assert.notEqual(plain.status, 0, 'python3 bound the port without SO_REUSEADDR');
    assert.match(plain.stderr, /Address already in use/);
    assert.equal(bind(true).status, 0, 'with SO_REUSEADDR it binds');
  });

  test("a server with allowHalfOpen that never ends (--half-open, even with --idle) stays in CLOSE-WAIT and the client in FIN-WAIT-2, with no timer; end() lets go and the client's side waits in TIME-WAIT", { skip: noSs }, async (t) => {
    const { server, port } = await echo(t, { halfOpen: true, idleMs: 20 });
    const accepted = acceptNext(server);
    const client = track(await connect(t, port));
    client.resume();
    const clientPort = client.localPort!;
    const socket = await accepted;
    client.end();
    await once(socket, 'end');
    const both = (all: SocketState[] | undefined) => [stateOf(all, port, clientPort)?.state, stateOf(all, clientPort, port)?.state];
    const leaking = await statesWhen(port, (all) => stateOf(all, clientPort, port)?.state === 'FIN-WAIT-2');
    assert.deepEqual(both(leaking), ['CLOSE-WAIT', 'FIN-WAIT-2']);
    // Nothing in the kernel moves it on: look again after a while (a negative claim needs a wait).
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.deepEqual(both(await tcpStates(port)), ['CLOSE-WAIT', 'FIN-WAIT-2'], 'still there');
    socket.end();
    await Promise.all([whenClosed(client), whenClosed(socket)]);
    assert.ok(timeWaitOf(await statesWhen(port, (all) => !!timeWaitOf(all, clientPort, port)), clientPort, port), "the client's side in TIME-WAIT");
  });

  // ── RST ────────────────────────────────────────────────────────────────────

  test("resetAndDestroy() sends an RST: the peer gets 'error' ECONNRESET, then 'close' with hadError true, and no 'end'", async (t) => {
    const { server, port } = await echo(t);
    const accepted = acceptNext(server);
    const client = track(await connect(t, port));
    client.resume();
    const socket = await accepted;
    client.on('end', mustNotCall("the client's 'end'"));
    client.on('error', mustCall(t, (err: NodeJS.ErrnoException) => assert.equal(err.code, 'ECONNRESET')));
    client.on('close', mustCall(t, (hadError: boolean) => assert.equal(hadError, true)));
    client.write('hi\n');
    await once(client, 'data'); // the echo: the connection is established on both sides
    socket.resetAndDestroy();
    await whenClosed(client);
  });

  test('a reset leaves no TIME-WAIT on either side', { skip: noSs }, async (t) => {
    const { server, port } = await echo(t);
    const accepted = acceptNext(server);
    const client = track(await connect(t, port));
    client.resume();
    client.on('error', () => {});
    const clientPort = client.localPort!;
    client.write('hi\n');
    await once(client, 'data');
    (await accepted).resetAndDestroy();
    await whenClosed(client);
    const left = (await tcpStates(port))?.filter((s) => s.localPort === clientPort || s.peerPort === clientPort);
    assert.deepEqual(left, [], `left: ${JSON.stringify(left)}`);
  });

  test("a connect to a port where nothing listens gets 'error' ECONNREFUSED and 'close' with hadError true, never 'connect'", async (t) => {
    const client = dial(t, await refusedPort());
    client.on('connect', mustNotCall("'connect'"));
    client.on('error', mustCall(t, (err: NodeJS.ErrnoException) => assert.equal(err.code, 'ECONNREFUSED')));
    assert.equal(await whenClosed(client), true);
  });

  test('a refused connect to a name with an IPv4 and an IPv6 address is an AggregateError: empty message, code ECONNREFUSED, one error per address', async (t) => {
    const port = await refusedPort();
    // A lookup that answers like /etc/hosts on most machines: localhost is 127.0.0.1 and ::1.
    const lookup = ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) =>
      options.all ? callback(null, [{ address: HOST, family: 4 }, { address: '::1', family: 6 }]) : callback(null, HOST, 4)) as unknown as net.LookupFunction;
    const client = dial(t, port, { host: 'localhost', lookup });
    const [err] = (await once(client, 'error').catch((e: unknown) => [e])) as [AggregateError & { code?: string }];
    assert.ok(err instanceof AggregateError, `got ${err}`);
    assert.equal(err.message, '');
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(err.errors.length, 2);
    assert.equal((err.errors[0] as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  });

  // ── the book ───────────────────────────────────────────────────────────────

  test("the book's four modules (net, dgram, http, https) are still there, and so are tls and http2", async () => {
    for (const name of ['net', 'dgram', 'http', 'https', 'tls', 'http2']) {
      const mod = (await import(`node:${name}`)) as Record<string, unknown>;
      assert.ok(Object.keys(mod).length > 0, `node:${name}`);
    }
  });

  // ── the lesson's server ────────────────────────────────────────────────────

  test('the echo server sends every byte back, as it came', async (t) => {
    const { port } = await echo(t);
    const client = track(await connect(t, port));
    const bytes = Buffer.from([0, 255, 10, 13, 0xe2, 0x98, 0x95, 65]);
    const all = readAll(client);
    client.end(bytes);
    assert.deepEqual(await all, bytes);
  });

  test('a client that never reads: the echo server stops reading, holding at most writableHighWaterMark + one read (64 KiB) to send and readableHighWaterMark + one read received', async (t) => {
    const { server, port } = await echo(t);
    const accepted = acceptNext(server);
    const client = track(await connect(t, port));
    const socket = await accepted;
    const total = 32 * 1024 * 1024;
    const sender = await assertStopsReading(t, client, socket, Buffer.alloc(ONE_READ, 'x'), total, ONE_READ);
    // Now the client reads: the echo resumes on 'drain', and every byte comes back.
    let echoed = 0;
    client.on('data', (chunk: Buffer) => (echoed += chunk.length));
    client.resume();
    await sender.done;
    client.end();
    await once(client, 'end');
    assert.equal(echoed, total);
  });

  test('a client that resets does not crash the echo server, which keeps answering others', async (t) => {
    const { port } = await echo(t);
    const rude = track(await connect(t, port));
    rude.write('x');
    rude.resetAndDestroy();
    await whenClosed(rude);
    const polite = track(await connect(t, port));
    const all = readAll(polite);
    polite.end('still answering');
    assert.equal((await all).toString(), 'still answering');
  });

  test("--serve --idle: the banner gives the ss command for its port, and a client that stays quiet gets the server's FIN first", async (t) => {
    const served = start(t, 'bin/lesson.ts', ['00', '--serve', '--idle', '50']);
    await served.waitFor(/Ctrl-C stops the server/);
    const port = Number(/listening on \S+:(\d+)\./.exec(served.stdout)?.[1]);
    if (process.platform === 'linux') assert.ok(served.stdout.includes(`ss -tano '( sport = :${port} or dport = :${port} )'`), served.stdout);
    assert.match(served.stdout, /Stay quiet for 50 ms: the server ends first/);
    const client = await connect(t, port);
    client.resume();
    await once(client, 'end'); // the server's FIN, with nothing sent
    await served.waitFor(/server\s+end\(\)/);
    served.child.kill('SIGINT');
    assert.equal((await served.finished).code, 0);
  });

  test("--serve --half-open: after the client's FIN the server never ends its side, not even after --idle; Ctrl-C does", async (t) => {
    const served = start(t, 'bin/lesson.ts', ['00', '--serve', '--half-open', '--idle', '50']);
    await served.waitFor(/Ctrl-C stops the server/);
    const port = Number(/listening on \S+:(\d+)\./.exec(served.stdout)?.[1]);
    assert.match(served.stdout, /--half-open: the server never ends its side/);
    const client = await connect(t, port, { allowHalfOpen: true });
    client.resume();
    let ended = false;
    const end = once(client, 'end').then(() => (ended = true));
    client.end();
    await served.waitFor(/server\s+end\b/); // the server got the client's FIN
    // A negative claim needs a wait: three times --idle.
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(ended, false, 'the server sent its FIN');
    served.child.kill('SIGINT'); // stopping, serve() ends every connection
    await end;
    assert.equal((await served.finished).code, 0);
  });

  test('--idle must be a whole number from 1 to 600000', async () => {
    for (const idle of ['0', 'soon', '600001']) {
      await assert.rejects(main({ serve: true, port: 0, host: HOST, extra: { idle } }), UsageError, `--idle ${idle}`);
    }
  });

  test("the lesson draws its four parts from the run: A's 'connect' before the server's 'connection', and on Linux the kernel's states", async (t) => {
    const lines: string[] = [];
    t.mock.method(console, 'log', (...args: unknown[]) => lines.push(args.join(' ')));
    await main({ serve: false, port: 0, host: HOST, extra: {} });
    const out = lines.join('\n');
    assert.equal(out.match(/^\s+ms\s+client\s+server$/gm)?.length, 4, 'four timelines');
    // Rows are drawn in the order they happened (two can share a printed time): compare rows.
    const rows = out.split('\n');
    const row = (pattern: RegExp) => rows.findIndex((line) => pattern.test(line));
    const connected = row(/^\s+[\d.]+\s+A connect$/); // the 'connect' event, not the connect() call
    assert.ok(connected > 0 && connected < row(/\s+connection from A$/), "A's 'connect' comes before the server's 'connection'");
    assert.ok(row(/\s+busy event loop blocked$/) < row(/A connect\(\)/), 'the server was blocked before A connected');
    assert.match(out, /A error ECONNRESET/);
    assert.match(out, /B error ECONNREFUSED/);
    if (!noSs) {
      for (const state of ['2 queued, backlog 1', 'C SYN-SENT', 'A TIME-WAIT', 'CLOSE-WAIT', 'A FIN-WAIT-2', 'no TIME-WAIT']) {
        assert.ok(out.includes(`kernel: ${state}`), `no kernel row "${state}"`);
      }
    }
  });
});

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { describe, test, type TestContext } from 'node:test';
import { createCounter, measure } from '../06-coalescing/lesson.ts';
import { LessonError, UsageError } from '../shared/cli.ts';
import { HOST, mustCall, onCleanup, unboundUdpPort } from '../shared/testing.ts';
import { has, start } from '../../test/processes.ts';
import {
  DEFAULT_SENDS, MAX_QUEUED, MAX_REPLY, MAX_UDP4_PAYLOAD, MAX_UDP6_PAYLOAD, SMALL_BUFFER, SMALL_SENDS, bound,
  createReplyServer, flood, main, rcvbufErrors, reply, sendSmall, socketDrops, trySize,
} from './lesson.ts';

// Sizes, buffers, drop counters and ICMP errors were measured on Linux. Other systems
// have other limits (macOS refuses datagrams over 9216 bytes by default) and other counters.
const notLinux = process.platform !== 'linux' && 'measured on Linux only (other systems have other size limits, buffers and counters)';

const noIPv6 = !os.networkInterfaces().lo?.some((a) => a.address === '::1') && 'the loopback has no IPv6 address (::1) here';

/** A UDP socket that is closed when the test ends. */
function udp(t: TestContext, options: dgram.SocketOptions = { type: 'udp4' }): dgram.Socket {
  const socket = dgram.createSocket(options);
  onCleanup(t, () => new Promise<void>((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  }));
  return socket;
}

/** A socket bound to 127.0.0.1 on a free port; returns it and its port. */
async function boundSocket(t: TestContext, options?: dgram.SocketOptions): Promise<{ socket: dgram.Socket; port: number }> {
  const socket = udp(t, options);
  socket.bind(0, HOST);
  const { port } = await bound(socket);
  return { socket, port };
}

/** The lesson's reply server, bound to 127.0.0.1:0, closed when the test ends. */
async function replyServer(t: TestContext, onDropped?: (rinfo: dgram.RemoteInfo) => void): Promise<{ server: dgram.Socket; port: number }> {
  const server = createReplyServer(onDropped);
  onCleanup(t, () => new Promise<void>((resolve) => server.close(() => resolve())));
  server.bind(0, HOST);
  const { port } = await bound(server);
  return { server, port };
}

/** Record the names of every event `emitter` emits. */
function emitted(emitter: dgram.Socket): string[] {
  const names: string[] = [];
  const emit = emitter.emit;
  emitter.emit = function (this: dgram.Socket, name: string | symbol, ...args: unknown[]) {
    names.push(String(name));
    return emit.apply(this, [name, ...args] as Parameters<typeof emit>);
  } as typeof emitter.emit;
  return names;
}

/** A UDP client program: keep its stdin open, send one line, wait for the reply on stdout, then kill it. */
async function talk(t: TestContext, command: string, args: string[], line: string): Promise<string> {
  const child = spawn(command, args);
  t.after(() => child.kill('SIGKILL'));
  child.stdout.setEncoding('utf8');
  let out = '';
  const replied = new Promise<void>((resolve) => child.stdout.on('data', (text: string) => (out += text).includes('\n') && resolve()));
  child.stdin.write(line);
  await replied;
  child.kill();
  return out;
}

/** `npm run lesson 07 -- args` as a child process (a broken lesson that hangs cannot hang this file); killed when the test ends. */
function lesson(t: TestContext, args: string[]) {
  return start(t, 'bin/lesson.ts', ['07', ...args]);
}

/** A broken lesson makes a test fail instead of waiting for ever for a datagram that never comes. */
const WAIT = 10_000;

describe('lesson 07', { concurrency: true, timeout: WAIT }, () => {
  // ── sockets, bind and 'message' ─────────────────────────────────────────────

  test("bind(0, '127.0.0.1') takes a free port, like listen(0): 'listening' fires and address() names it", async (t) => {
    const socket = udp(t);
    socket.on('listening', mustCall(t));
    socket.bind(0, HOST);
    const address = await bound(socket);
    assert.equal(address.address, HOST);
    assert.ok(address.port > 0, `expected a real port, got ${address.port}`);
  });

  test('dgram has no server class: the server and the client are the same kind of socket, and it has connect() (Node 12)', async (t) => {
    const { server } = await replyServer(t);
    const client = udp(t);
    assert.ok(server instanceof dgram.Socket && client instanceof dgram.Socket);
    assert.ok(!(server instanceof net.Server));
    assert.equal('createServer' in dgram, false, 'no dgram.createServer: every UDP socket is made with createSocket()');
    assert.equal(typeof client.connect, 'function');
  });

  test("'message' gives the datagram as a Buffer and rinfo: the sender's address, family, port and size", async (t) => {
    const { socket: server, port } = await boundSocket(t);
    const { socket: client, port: clientPort } = await boundSocket(t);
    const arrived = once(server, 'message') as Promise<[Buffer, dgram.RemoteInfo]>;
    client.send('hello', port, HOST);
    const [message, rinfo] = await arrived;
    assert.ok(Buffer.isBuffer(message));
    assert.equal(message.toString(), 'hello');
    assert.deepEqual(rinfo, { address: HOST, family: 'IPv4', port: clientPort, size: 5 });
  });

  test("a client needs no bind() or connect(): its first send() binds it to 0.0.0.0 and a free port ('listening')", async (t) => {
    const { socket: server, port } = await boundSocket(t);
    const client = udp(t);
    const listening = once(client, 'listening');
    const arrived = once(server, 'message') as Promise<[Buffer, dgram.RemoteInfo]>;
    client.send('hello', port, HOST);
    await listening;
    const address = client.address();
    assert.equal(address.address, '0.0.0.0', 'bound to every interface: anyone who can reach this machine can send to it');
    assert.ok(address.port > 0);
    const [, rinfo] = await arrived;
    assert.equal(rinfo.port, address.port, 'the datagram came from the port send() bound');
  });

  test("no connection: the server emits only 'listening' and 'message' — no 'connection', no 'end', nothing when the client closes", async (t) => {
    const { server, port } = await replyServer(t);
    const events = emitted(server);
    const client = udp(t);
    client.send('hello', port, HOST);
    await once(client, 'message');
    client.close();
    await once(client, 'close');
    // Another client's round trip after the close: had the close sent anything, it would have arrived first.
    const other = udp(t);
    other.send('are you there?', port, HOST);
    await once(other, 'message');
    assert.deepEqual(events, ['message', 'message'], 'one message per datagram, nothing else');
  });

  // ── boundaries ──────────────────────────────────────────────────────────────

  test(`each send() arrives as exactly one 'message': ${SMALL_SENDS} sends of 10 B in one tick give ${SMALL_SENDS} messages of 10 B, each whole and distinct`, async () => {
    const udpRun = await sendSmall(HOST, SMALL_SENDS);
    assert.equal(udpRun.messages, SMALL_SENDS, 'the receiver keeps up (its buffer holds them all), so every datagram arrives');
    assert.ok(udpRun.sizes.every((size) => size === 10), `every message is one whole datagram of 10 B, got sizes ${[...new Set(udpRun.sizes)].join(', ')}`);
    assert.ok(udpRun.wholeAndDistinct, 'each datagram arrived once, never merged with another or cut');
  });

  test(`the same ${SMALL_SENDS} writes of 10 B over TCP give fewer 'data' events than writes (lesson 06)`, async () => {
    const counter = createCounter();
    counter.listen(0, HOST);
    await once(counter, 'listening');
    try {
      const tcp = await measure((counter.address() as net.AddressInfo).port, HOST, 'same tick', SMALL_SENDS);
      assert.equal(tcp.bytes, SMALL_SENDS * 10);
      assert.ok(tcp.events < SMALL_SENDS, `expected the bytes to merge into fewer than ${SMALL_SENDS} 'data' events, got ${tcp.events}`);
    } finally {
      counter.close();
      await once(counter, 'close');
    }
  });

  // ── the size limit ──────────────────────────────────────────────────────────

  test(`a datagram of ${MAX_UDP4_PAYLOAD} B (65535 − 20 B IPv4 header − 8 B UDP header) arrives as one 'message', never split`, { skip: notLinux }, async () => {
    assert.equal(MAX_UDP4_PAYLOAD, 65507);
    assert.deepEqual(await trySize(HOST, MAX_UDP4_PAYLOAD), { arrived: MAX_UDP4_PAYLOAD });
  });

  test(`one byte more (${MAX_UDP4_PAYLOAD + 1} B) fails with EMSGSIZE in the send() callback`, { skip: notLinux }, async () => {
    assert.deepEqual(await trySize(HOST, MAX_UDP4_PAYLOAD + 1), { error: 'EMSGSIZE' });
  });

  test(`over IPv6 the limit is ${MAX_UDP6_PAYLOAD} B (65535 − 8 B UDP header: IPv6 does not count its own header); one byte more is EMSGSIZE`, { skip: notLinux || noIPv6 }, async () => {
    assert.equal(MAX_UDP6_PAYLOAD, 65527);
    assert.deepEqual(await trySize('::1', MAX_UDP6_PAYLOAD), { arrived: MAX_UDP6_PAYLOAD });
    assert.deepEqual(await trySize('::1', MAX_UDP6_PAYLOAD + 1), { error: 'EMSGSIZE' });
  });

  test("without a callback, a failed send() says nothing: no 'error' event, and the datagram is gone", { skip: notLinux }, async (t) => {
    const { socket: receiver, port } = await boundSocket(t);
    const sender = udp(t);
    const errors: unknown[] = [];
    sender.on('error', (err) => errors.push(err));
    const arrivals: number[] = [];
    receiver.on('message', (message: Buffer) => arrivals.push(message.length));
    sender.send(Buffer.alloc(MAX_UDP4_PAYLOAD + 1), port, HOST);
    // A second datagram, with a callback: once it has arrived, anything about the first would have come.
    await new Promise((resolve) => sender.send('after', port, HOST, resolve));
    while (arrivals.length === 0) await once(receiver, 'message');
    assert.deepEqual(errors, [], 'no error was reported');
    assert.deepEqual(arrivals, [5], 'only the second datagram arrived');
  });

  // ── no delivery promise ─────────────────────────────────────────────────────

  test(`Linux doubles the receive buffer asked for: recvBufferSize ${SMALL_BUFFER} gives ${SMALL_BUFFER * 2}`, { skip: notLinux }, async (t) => {
    const { socket } = await boundSocket(t, { type: 'udp4', recvBufferSize: SMALL_BUFFER });
    assert.equal(socket.getRecvBufferSize(), SMALL_BUFFER * 2);
  });

  test('Linux caps the receive buffer at twice net.core.rmem_max', { skip: notLinux }, async (t) => {
    const max = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    const { socket } = await boundSocket(t, { type: 'udp4', recvBufferSize: max * 4 });
    assert.equal(socket.getRecvBufferSize(), max * 2);
  });

  test(`a receiver that cannot read loses datagrams: of ${DEFAULT_SENDS} sent in one loop to a ${SMALL_BUFFER * 2} B buffer, fewer than half arrive, each whole, and every send() succeeded`, { skip: notLinux }, async () => {
    const run = await flood(HOST, DEFAULT_SENDS, SMALL_BUFFER);
    assert.equal(run.sendErrors, 0, 'no send() was told that its datagram was lost');
    assert.equal(run.queuedAfterSends, 0, 'nothing waits in Node once the send() callbacks have run: the kernel has it all');
    assert.ok(run.messages > 0, 'what fits in the buffer arrives');
    assert.ok(run.messages < DEFAULT_SENDS / 2, `expected fewer than ${DEFAULT_SENDS / 2} of ${DEFAULT_SENDS} to arrive, got ${run.messages}`);
    assert.ok(run.wholeAndDistinct, 'every datagram that arrived is whole, and arrived once');
  });

  test("the kernel counts every lost datagram: the socket's drops (/proc/net/udp) are exactly the ones that never arrived, and Udp RcvbufErrors rose at least as much", { skip: notLinux }, async () => {
    const before = rcvbufErrors();
    const run = await flood(HOST, DEFAULT_SENDS, SMALL_BUFFER);
    assert.notEqual(run.dropped, null, '/proc/net/udp has the socket');
    assert.equal(run.messages + run.dropped!, run.sent, `received ${run.messages} + dropped ${run.dropped} should be the ${run.sent} sent: nothing else happened to them`);
    assert.ok(run.dropped! > 0);
    assert.ok(run.rcvbufErrors! >= run.dropped!, `RcvbufErrors rose by ${run.rcvbufErrors}, expected at least ${run.dropped} (other programs may add to it)`);
    assert.ok(rcvbufErrors()! - before! >= run.dropped!);
  });

  test('over IPv6 the kernel counts the lost datagrams too: /proc/net/udp6 drops and Udp6RcvbufErrors', { skip: notLinux || noIPv6 }, async () => {
    const run = await flood('::1', DEFAULT_SENDS, SMALL_BUFFER);
    assert.ok(run.dropped! > 0 && run.messages + run.dropped! === run.sent, `received ${run.messages} + dropped ${run.dropped} should be ${run.sent}`);
    assert.ok(run.rcvbufErrors! >= run.dropped!, `Udp6RcvbufErrors rose by ${run.rcvbufErrors}, expected at least ${run.dropped}`);
  });

  test('where the counters cannot be read, one last datagram, sent until it arrives, shows that everything the kernel kept has been read', async () => {
    const run = await flood(HOST, DEFAULT_SENDS, SMALL_BUFFER, false);
    assert.equal(run.dropped, null);
    assert.equal(run.rcvbufErrors, null);
    assert.ok(run.messages > 0 && run.messages <= run.sent, `received ${run.messages}`);
    assert.ok(run.wholeAndDistinct, 'the last datagram is not counted among the numbered ones');
  });

  test('socketDrops() reads the drop counter of the socket bound to a port, and null when there is none', { skip: notLinux }, async (t) => {
    const { port } = await boundSocket(t);
    assert.equal(socketDrops(port), 0);
    assert.equal(socketDrops(await unboundUdpPort()), null);
  });

  test('ss -uamn shows the same drop counter, as d… in skmem', { skip: notLinux || (!has('ss') && 'ss (iproute2) is not installed') }, async (t) => {
    const { socket: receiver, port } = await boundSocket(t, { type: 'udp4', recvBufferSize: SMALL_BUFFER });
    const sender = udp(t);
    await new Promise<void>((resolve) => {
      let done = 0;
      for (let i = 0; i < DEFAULT_SENDS; i++) sender.send('0123456789', port, HOST, () => ++done === DEFAULT_SENDS && resolve());
    });
    receiver.on('message', () => {}); // it reads from now on; the drops stay counted
    const drops = socketDrops(port);
    assert.ok(drops! > 0, `expected drops, got ${drops}`);
    const shown = spawnSync('ss', ['-uamnH', `sport = :${port}`], { encoding: 'utf8' }).stdout;
    assert.match(shown, new RegExp(`skmem:\\(.*,d${drops}\\)`), shown);
  });

  // ── no connection, so no refusal ────────────────────────────────────────────

  test("to a port where nothing is bound, an unconnected socket hears nothing, while a connected one gets 'error' ECONNREFUSED", { skip: notLinux }, async (t) => {
    const port = await unboundUdpPort();
    const loose = udp(t);
    loose.on('error', () => assert.fail('the unconnected socket must get no error'));
    const sent = await new Promise((resolve) => loose.send('anyone?', port, HOST, resolve));
    assert.equal(sent, null, "send()'s callback reports success");
    // A connected socket sends to the same port; its error proves the "port unreachable" came back.
    const connected = udp(t);
    connected.connect(port, HOST);
    await once(connected, 'connect');
    const failed = once(connected, 'error') as Promise<[NodeJS.ErrnoException]>;
    connected.send('anyone?');
    const [err] = await failed;
    assert.equal(err.code, 'ECONNREFUSED');
    // The unconnected socket's 'error' listener above would have failed the test by now.
  });

  test("after connect(), the ICMP 'port unreachable' is an 'error' ECONNREFUSED from recvmsg, after send() reported success; the socket stays open", { skip: notLinux }, async (t) => {
    const port = await unboundUdpPort();
    const socket = udp(t);
    socket.connect(port, HOST);
    await once(socket, 'connect');
    const failed = once(socket, 'error') as Promise<[NodeJS.ErrnoException]>;
    const sent = await new Promise((resolve) => socket.send('anyone?', resolve));
    assert.equal(sent, null, "send()'s callback reports success: the datagram left");
    const [err] = await failed;
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(err.syscall, 'recvmsg', 'the error comes from receiving, not from send()');
    assert.deepEqual(socket.remoteAddress(), { address: HOST, family: 'IPv4', port }, 'still connected, still open');
    const second = once(socket, 'error') as Promise<[NodeJS.ErrnoException]>;
    socket.send('still there?');
    assert.equal((await second)[0].code, 'ECONNREFUSED', 'it can send again, and hears again');
  });

  test("connect() sends nothing: it emits 'connect' at once, and the peer gets nothing until the first send()", async (t) => {
    const { socket: peer, port } = await boundSocket(t);
    const arrivals: string[] = [];
    peer.on('message', (message: Buffer) => arrivals.push(message.toString()));
    const socket = udp(t);
    socket.on('connect', mustCall(t));
    socket.connect(port, HOST);
    await once(socket, 'connect');
    assert.deepEqual(socket.remoteAddress(), { address: HOST, family: 'IPv4', port }, 'send() without an address goes here');
    socket.send('first');
    await once(peer, 'message');
    assert.deepEqual(arrivals, ['first'], 'the first datagram the peer ever got is the first send()');
  });

  test('a connected socket only takes datagrams from its peer; to anyone else its port looks closed (ECONNREFUSED)', { skip: notLinux }, async (t) => {
    const { socket: peer, port: peerPort } = await boundSocket(t);
    const socket = udp(t);
    socket.connect(peerPort, HOST);
    await once(socket, 'connect');
    const from: number[] = [];
    socket.on('message', (_message: Buffer, rinfo: dgram.RemoteInfo) => from.push(rinfo.port));
    assert.equal(socket.address().address, HOST, 'connect() also chose the local address');
    const stranger = udp(t);
    stranger.connect(socket.address().port, HOST);
    await once(stranger, 'connect');
    const refused = once(stranger, 'error') as Promise<[NodeJS.ErrnoException]>;
    stranger.send('let me in');
    assert.equal((await refused)[0].code, 'ECONNREFUSED', "the kernel found no socket for the stranger's datagram");
    peer.send('from the peer', socket.address().port, HOST);
    await once(socket, 'message');
    assert.deepEqual(from, [peerPort], "only the peer's datagram arrived");
  });

  // ── the lesson's server ─────────────────────────────────────────────────────

  test('the server answers each datagram with one datagram, sent to the address and port it came from', async (t) => {
    const { port } = await replyServer(t);
    const { socket: client } = await boundSocket(t);
    const answers: string[] = [];
    client.on('message', (message: Buffer, rinfo: dgram.RemoteInfo) => answers.push(`${message} from ${rinfo.port}`));
    for (const word of ['one', 'three']) client.send(word, port, HOST);
    while (answers.length < 2) await once(client, 'message');
    assert.deepEqual(answers.sort(), [`got 3 B\n from ${port}`, `got 5 B\n from ${port}`]);
  });

  test(`a reply never grows with what arrives: at most 12 B, even for a ${MAX_UDP4_PAYLOAD} B datagram`, { skip: notLinux }, async (t) => {
    assert.equal(MAX_REPLY, 12, 'the README promises 12 B');
    const { port } = await replyServer(t);
    const client = udp(t);
    client.send(Buffer.alloc(MAX_UDP4_PAYLOAD), port, HOST);
    const [answer] = (await once(client, 'message')) as [Buffer];
    assert.ok(answer.length <= 12, `reply of ${answer.length} B`);
    assert.ok(Buffer.byteLength(reply(Buffer.alloc(1))) <= 12);
    assert.equal(answer.toString(), `got ${MAX_UDP4_PAYLOAD} B\n`);
  });

  test(`the server drops a reply instead of queueing it when more than ${MAX_QUEUED} B of replies wait to be sent (UDP has no back-pressure)`, async (t) => {
    const dropped: number[] = [];
    const { server, port } = await replyServer(t, (rinfo) => dropped.push(rinfo.port));
    const { socket: client, port: clientPort } = await boundSocket(t);
    // Pretend the kernel stopped taking datagrams: Node's queue is over the limit.
    const real = server.getSendQueueSize;
    server.getSendQueueSize = () => MAX_QUEUED + 1;
    const firstArrived = once(server, 'message');
    client.send('12345', port, HOST);
    await firstArrived;
    server.getSendQueueSize = real;
    client.send('123', port, HOST);
    const [answer] = (await once(client, 'message')) as [Buffer];
    assert.equal(answer.toString(), 'got 3 B\n', 'the first reply was dropped; the second was sent');
    assert.deepEqual(dropped, [clientPort]);
  });

  test("the server survives an 'error' on its socket and keeps answering", async (t) => {
    const { server, port } = await replyServer(t);
    server.emit('error', Object.assign(new Error('test'), { code: 'ENOBUFS' }));
    const client = udp(t);
    client.send('still there?', port, HOST);
    const [answer] = (await once(client, 'message')) as [Buffer];
    assert.equal(answer.toString(), 'got 12 B\n');
  });

  test('bind() on a port in use is one line that suggests --port', async (t) => {
    const { port } = await boundSocket(t);
    const second = udp(t);
    second.bind(port, HOST);
    await assert.rejects(bound(second), (err: Error) => err instanceof LessonError && /port \d+ is already in use.*--port/.test(err.message));
  });

  test('--sends must be a whole number from 1 to 10000', async () => {
    for (const sends of ['0', '10001', 'many']) {
      await assert.rejects(main({ serve: false, port: 0, host: HOST, extra: { sends } }), UsageError);
    }
  });

  // ── the run and --serve, as a learner starts them ─────────────────────────────

  test('--serve: listens on 127.0.0.1, answers nc -u and socat, logs each datagram, and stops on SIGTERM', async (t) => {
    const served = lesson(t, ['--serve']);
    const [banner, host, port] = await served.waitFor(/^listening on (\S+):(\d+)\. Talk to it from another terminal:\n(?:.*\n)*Ctrl-C stops the server\.\n/m);
    assert.equal(host, HOST, banner);
    assert.ok(served.stdout.startsWith('listening on'), 'the banner comes first');
    assert.match(banner, new RegExp(`^  nc -u ${HOST} ${port}$`, 'm'));
    assert.match(banner, new RegExp(`^  socat - UDP:${HOST}:${port}$`, 'm'));

    if (has('nc')) {
      assert.equal(await talk(t, 'nc', ['-u', HOST, port], 'hello\n'), 'got 6 B\n', 'each line typed is one datagram');
      assert.equal(await talk(t, 'nc', ['-u', HOST, port], 'one\ntwo\n'), 'got 8 B\n', 'what nc reads at once is one datagram');
    } else {
      t.diagnostic('nc is not installed: skipped talking to it with nc -u');
    }
    if (has('socat')) assert.equal(await talk(t, 'socat', ['-', `UDP:${HOST}:${port}`], 'hi socat\n'), 'got 9 B\n');
    else t.diagnostic('socat is not installed: skipped talking to it with socat');
    const client = udp(t);
    client.send('from node\n', Number(port), HOST);
    await once(client, 'message');
    await served.waitFor(/server\s+send\(\) "got 10 B\\n" 9 B/);
    assert.match(served.stdout, /server\s+message :\d+ "from node\\n" 10 B/, 'each datagram is logged as it arrives');
    // nc and socat have quit by now: the log shows datagrams and replies, nothing about clients leaving.
    const live = served.stdout.slice(banner.length).split('\n').filter((l) => l.trim() !== '');
    assert.ok(live.length >= 2 && live.every((l) => /^\s+\d+\.\d\s+server\s+(message :\d+|send\(\)) /.test(l)), live.join('\n'));

    served.child.kill('SIGTERM');
    assert.equal((await served.finished).code, 0, served.stderr);
    assert.match(served.stdout, /\nstopping \(SIGTERM\): closing the socket/);
    assert.ok(served.stdout.trimEnd().endsWith('\nserver closed'), served.stdout);
  });

  test('the run draws its timeline and prints what it measured', async (t) => {
    const run = await lesson(t, []).finished;
    assert.equal(run.code, 0, run.stderr);
    const out = run.stdout;
    assert.match(out, /^\s+ms\s+client\s+server$/m, 'the timeline header');
    assert.match(out, /^\s+\d+\.\d\s+listening 0\.0\.0\.0:\d+$/m, "the client's first send() bound it");
    assert.match(out, /message :\d+ "hello" 5 B/, 'the server shows the sender port of each datagram');
    const [, before, since] = /the server saw nothing \((\d+) server events before, (\d+) since\)/.exec(out) ?? [];
    assert.ok(before !== undefined && before === since, out);
    assert.match(out, /UDP: 100 'message' events, sizes all 10 B, each datagram whole and distinct/);
    const tcp = Number(/TCP: (\d+) 'data' event/.exec(out)?.[1]);
    assert.ok(tcp >= 1 && tcp < 100, `TCP: ${tcp} 'data' events`);
    if (!notLinux) {
      assert.match(out, /65507 B arrived as one 'message' of 65507 B/);
      assert.match(out, /65508 B: EMSGSIZE in the send\(\) callback/);
      assert.match(out, /send\(\) errors: 0\. Received: \d+, each whole and distinct\.\n\s+Dropped by the kernel: \d+/);
      assert.match(out, /without connect\(\): no error at all\n\s+after connect\(\):\s+'error' ECONNREFUSED/);
    }
    assert.match(out, new RegExp(`^${DEFAULT_SENDS} datagrams sent in one loop`, 'm'), 'by default');
  });

  test('--sends sets how many datagrams part 4 sends at once', async (t) => {
    const run = await lesson(t, ['--sends', '50']).finished;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^50 datagrams sent in one loop/m);
  });
});

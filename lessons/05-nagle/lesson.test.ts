import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import test, { before, describe, type TestContext } from 'node:test';
import { UsageError, finishConnection } from '../shared/cli.ts';
import { Timeline } from '../shared/timeline.ts';
import { closed, readAll, readUntil } from '../shared/read.ts';
import { HOST, ONE_READ, assertStopsReading, connect, listen, nextConnection, paused, sendWithoutReading } from '../shared/testing.ts';
import {
  DEFAULT_ROUNDS, MAX_LINE, MAX_ROUNDS, VARIANTS, answer, createPongServer, drawConnections, flags, main, measureAll, median, percentile, roundNote,
  roundTrip, segmentsUnavailable, sendRequest, serveNote, type Measurement, type Variant,
} from './lesson.ts';

// Timings only where we know the timers: Linux delays an ACK by at least 40 ms.
// Macs and Windows use 100–200 ms delayed-ACK timers and other rules: not measured here.
const notLinux = process.platform !== 'linux' && 'round-trip timings are only checked on Linux (delayed-ACK timers differ elsewhere)';
const noSegments = (await segmentsUnavailable()) ?? false;
/** Measured rounds per case. Each stalled round costs about 40 ms; all cases of a phase run at once. */
const ROUNDS = 8;

test('the server answers a request only once its whole line has arrived', async (t) => {
  const server = createPongServer();
  const firstPieceRead = new Promise<string>((resolve) => {
    // Prepended: runs before the server's own listener, so it sees every read.
    server.prependListener('connection', (socket: net.Socket) => resolve(readUntil(socket, (text) => text.length >= 5)));
  });
  const client = await connect(t, await listen(t, server));
  const replies = readUntil(client, (text) => text.endsWith('\n'));
  client.write('ping ');
  assert.equal(await firstPieceRead, 'ping '); // the server has read half a request…
  client.write('1\n');
  assert.equal(await replies, answer('ping 1')); // …and answered only the whole one
  assert.equal(answer('ping 1'), 'pong 1\n');
});

test('the server answers every line, however the bytes were split', async (t) => {
  const client = await connect(t, await listen(t, createPongServer()));
  const expected = 'pong 42\npong 43\nsend a line like: ping 1\n';
  const replies = readUntil(client, (text) => text.length >= expected.length);
  for (const piece of ['pi', 'ng 4', '2\nping', ' 43\r\nhel', 'lo\n']) client.write(piece); // telnet sends \r\n
  assert.equal(await replies, expected);
});

test('the server ends a connection whose line grows past MAX_LINE instead of buffering it', async (t) => {
  const client = await connect(t, await listen(t, createPongServer()));
  const all = readAll(client); // resolves on the server's FIN
  client.write('x'.repeat(MAX_LINE + 1));
  assert.match((await all).toString(), /line longer than 4096 characters/);
});

test('a client that resets does not crash the server, which keeps answering others', async (t) => {
  const port = await listen(t, createPongServer());
  const rude = await connect(t, port);
  await roundTrip(rude, 1, 'two writes');
  rude.resetAndDestroy(); // RST instead of FIN (no write pending, so Node 20 really sends RST)
  await once(rude, 'close');
  const polite = await connect(t, port);
  const reply = readUntil(polite, (text) => text.endsWith('\n'));
  polite.write('ping 2\n');
  assert.equal(await reply, 'pong 2\n');
});


// ── back-pressure, and --serve stopping ───────────────────────────────────────

test(
  'a client that never reads leaves the server holding at most writableHighWaterMark + the answers to one read, ' +
    'and readableHighWaterMark + one read of input; once it reads, every answer arrives',
  async (t) => {
    const server = createPongServer();
    const accepted = nextConnection(server);
    const client = await connect(t, await listen(t, server));
    const socket = await accepted;
    const request = `ping ${'x'.repeat(994)}\n`; // 1000 B, answered with as many
    const chunk = Buffer.from(request.repeat(65));
    const total = chunk.length * 512; // 33 MB
    const answersToOneRead = Math.ceil(ONE_READ / request.length) * answer(request.slice(0, -1)).length;
    const sender = await assertStopsReading(t, client, socket, chunk, total, answersToOneRead);

    // Now the client stops sending and reads: the server resumes on 'drain', and every request gets its answer.
    sender.stop();
    const answers = readAll(client);
    await sender.done;
    client.end();
    const got = (await answers).toString();
    const expected = answer(request.slice(0, -1)).repeat(sender.sent() / request.length);
    assert.equal(got.length, expected.length, `answers: ${got.length} B, expected ${expected.length} B`);
    assert.ok(got === expected, 'every answer arrives');
  },
);

test('when --serve stops, a connection whose client did not read gets its queued answers, then a FIN', async (t) => {
  const server = createPongServer();
  drawConnections(server, new Timeline({ live: true, print: () => {} }), 'every');
  const accepted = nextConnection(server);
  // allowHalfOpen: the client goes on sending after the server's FIN (otherwise Node would end it then).
  const client = await connect(t, await listen(t, server), { allowHalfOpen: true });
  const socket = await accepted;
  const request = `ping ${'y'.repeat(994)}\n`;
  const sender = sendWithoutReading(client, Buffer.from(request.repeat(65)), 65_000 * 512);
  const stopped = await Promise.race([paused(socket).then(() => true), sender.done.then(() => false)]);
  assert.ok(stopped, 'the server paused for the client that does not read');
  finishConnection(socket); // what serve() does to every open connection on Ctrl-C or SIGTERM
  const got = (await readAll(client)).toString(); // until the server's FIN
  sender.stop();
  await sender.done; // the server reads and discards what is still on the way
  client.end();
  const pong = answer(request.slice(0, -1));
  assert.ok(got.length > 0 && got === pong.repeat(got.length / pong.length), `whole answers, then the FIN: got ${got.length} B`);
  assert.equal(await closed(client), false, 'closed cleanly, no reset');
});

// ── when write() hands the bytes to the kernel ────────────────────────────────

test('while corked, Node keeps the writes (writableLength counts them) and hands them over on uncork()', async (t) => {
  const client = await connect(t, await listen(t, createPongServer()));
  const replied = readUntil(client, (text) => text.endsWith('\n'));
  client.cork();
  client.write('ping ');
  client.write('1\n');
  assert.equal(client.writableLength, 7, 'both pieces wait in Node while corked');
  client.uncork();
  assert.equal(client.writableLength, 0, 'handed to the kernel on uncork()');
  assert.equal(await replied, 'pong 1\n');
});

test('while still connecting, Node keeps the writes and hands them over once connected', async (t) => {
  const port = await listen(t, createPongServer());
  const client = net.connect(port, HOST);
  t.after(() => client.destroy());
  const replied = readUntil(client, (text) => text.endsWith('\n'));
  client.write('ping 1\n');
  assert.equal(client.connecting, true);
  assert.equal(client.writableLength, 7, 'the request waits in Node until the connection is up');
  await once(client, 'connect');
  assert.equal(client.writableLength, 0, "handed to the kernel by the time 'connect' is emitted");
  assert.equal(await replied, 'pong 1\n');
});

test("once the kernel's send buffer is full (the peer does not read), Node keeps the writes", async (t) => {
  const server = net.createServer({ pauseOnConnect: true }, (socket) => socket.on('error', () => {}));
  const client = await connect(t, await listen(t, server));
  const piece = Buffer.alloc(1024);
  client.write(piece);
  assert.equal(client.writableLength, 0, 'the first write went straight to the kernel');
  let written = piece.length;
  // One tick, and nobody reads: the kernels' buffers fill up, then Node has to keep what follows.
  while (client.writableLength === 0 && written < 256 * 1024 * 1024) {
    client.write(piece);
    written += piece.length;
  }
  t.diagnostic(`the kernel took about ${written - client.writableLength} B before Node had to keep ${client.writableLength} B`);
  assert.ok(client.writableLength > 0, `after ${written} B, Node still had nothing queued`);
});

// ── the lesson script and its flags ───────────────────────────────────────────

test('a drawn round is marked for what it is: a stall, or time lost elsewhere on a busy machine', () => {
  assert.equal(roundNote(1.2, 0.4), '');
  assert.equal(roundNote(43.2, 42.4), '  ← stalled');
  // A round seen on a busy machine: 396 ms, although the second piece reached the server 0.3 ms after its write().
  assert.match(roundNote(396, 0.3), /not a stall: the second piece arrived at once; the process was held up for 396 ms elsewhere \(a busy machine\)/);
  assert.match(roundNote(300, 44), /^ {2}← stalled; and the process was held up for 256 ms elsewhere/);
});

test('the --serve note prints a client for the real host and port, never placeholders', () => {
  const note = serveNote('127.0.0.1', 40123);
  assert.match(note, /require\('net'\)\.connect\(40123,'127\.0\.0\.1'\)/);
  assert.doesNotMatch(note, /\bPORT\b|\bHOST\b/);
});

test('--rounds takes a whole number from 1 to 1000, and the flag help says so', async () => {
  for (const bad of ['0', 'ten', '1001', '5e2']) {
    await assert.rejects(main({ serve: false, port: 0, host: HOST, extra: { rounds: bad } }), (err: unknown) => {
      assert.ok(err instanceof UsageError, `--rounds ${bad}: ${err}`);
      assert.equal(err.message, `--rounds must be a whole number from 1 to ${MAX_ROUNDS} (got ${JSON.stringify(bad)})`);
      return true;
    });
  }
  assert.equal(MAX_ROUNDS, 1000);
  assert.match(flags.rounds.help, new RegExp(`default ${DEFAULT_ROUNDS}, at most 1000`));
});

test('the --serve server (every connection drawn live) survives a client that resets, and keeps answering others', async (t) => {
  const server = createPongServer();
  drawConnections(server, new Timeline({ live: true, print: () => {} }), 'every');
  const port = await listen(t, server);
  const rude = await connect(t, port);
  await roundTrip(rude, 1, 'one write');
  rude.resetAndDestroy();
  await once(rude, 'close');
  const polite = await connect(t, port);
  const reply = readUntil(polite, (text) => text.endsWith('\n'));
  polite.write('ping 2\n');
  assert.equal(await reply, 'pong 2\n');
});

// ---------------------------------------------------------------------------
// Servers and clients for the timing tests.

/** A measurement of our own: a warm-up (first) round, then the timed ones. */
interface Timed {
  first: number;
  rtts: number[];
}

/**
 * A new connection, a warm-up round, then `rounds` timed round trips: `send`
 * writes one request, and its reply is complete once it ends with `end`.
 */
async function roundTrips(port: number, rounds: number, send: (socket: net.Socket, n: number) => void, noDelay = false, end = '\n'): Promise<Timed> {
  const client = net.connect({ port, host: HOST, noDelay });
  await once(client, 'connect');
  const one = async (n: number) => {
    const start = performance.now();
    const replied = readUntil(client, (text) => text.endsWith(end));
    send(client, n);
    await replied;
    return performance.now() - start;
  };
  try {
    const first = await one(0);
    const rtts: number[] = [];
    for (let n = 1; n <= rounds; n++) rtts.push(await one(n));
    return { first, rtts };
  } finally {
    client.end();
    if (!client.closed) await once(client, 'close');
  }
}

/** An http.Server's answer: headers first (flushHeaders), then the body: two writes, like the lesson's client. */
function twoWriteResponder(req: http.IncomingMessage, res: http.ServerResponse): void {
  req.resume();
  res.writeHead(200, { 'content-length': '5' });
  res.flushHeaders();
  res.end('pong\n');
}

/** A keep-alive GET from a plain net client with Nagle off, so only the http server's sockets can stall. */
function httpGet(client: net.Socket): void {
  client.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
}

/**
 * Like the pong server, but it answers every piece at once: one '.' for a
 * piece that does not finish a line. Its reply carries the ACK for that piece.
 */
function createEagerServer(): net.Server {
  return net.createServer((socket) => {
    socket.on('error', () => {});
    socket.setEncoding('utf8');
    let pending = '';
    socket.on('data', (text: string) => {
      pending += text;
      if (!pending.includes('\n')) socket.write('.');
      for (let newline; (newline = pending.indexOf('\n')) !== -1; pending = pending.slice(newline + 1)) {
        socket.write(answer(pending.slice(0, newline)));
      }
    });
  });
}

/** Answers each request line in two writes, "pong " and then "<n>\n", as an http.Server sends headers, then a body. */
function createTwoPieceReplier(options: net.ServerOpts = {}): net.Server {
  return net.createServer(options, (socket) => {
    socket.on('error', () => {});
    socket.setEncoding('utf8');
    let pending = '';
    socket.on('data', (text: string) => {
      pending += text;
      for (let newline; (newline = pending.indexOf('\n')) !== -1; pending = pending.slice(newline + 1)) {
        socket.write('pong ');
        socket.write(`${pending.slice('ping '.length, newline)}\n`);
      }
    });
  });
}

/** Answers "ok\n" once a whole request of `requestBytes` bytes has arrived, whatever its content. */
function createCountingServer(requestBytes: number): net.Server {
  return net.createServer((socket) => {
    socket.on('error', () => {});
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      for (received += chunk.length; received >= requestBytes; received -= requestBytes) socket.write('ok\n');
    });
  });
}

/** More than any loopback MSS (tens of KiB): a second write of this size fills whole segments. */
const FULL = Buffer.alloc(200 * 1024, 'x');

/** A plain TCP server that answers an HTTP request only once its headers and its 4-byte body have arrived. */
function createWholeRequestServer(): net.Server {
  return net.createServer((socket) => {
    socket.on('error', () => {});
    socket.setEncoding('latin1');
    let pending = '';
    socket.on('data', (text: string) => {
      pending += text;
      for (let end; (end = pending.indexOf('\r\n\r\n')) !== -1 && pending.length >= end + 4 + 4; pending = pending.slice(end + 8)) {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n');
      }
    });
  });
}

/**
 * POST requests through an http.Agent, each sent as two writes: the headers
 * (flushHeaders), then the 4-byte body on the next turn of the event loop.
 * One warm-up round, then `rounds` timed ones, all on one kept-alive socket.
 */
async function agentRoundTrips(port: number, rounds: number, agent: http.Agent): Promise<Timed> {
  const one = () =>
    new Promise<number>((resolve, reject) => {
      const req = http.request({ port, host: HOST, method: 'POST', agent, headers: { 'content-length': '4' } });
      req.on('error', reject);
      req.on('socket', (socket) => {
        const send = () => {
          const start = performance.now();
          req.on('response', (res) => res.resume().on('end', () => resolve(performance.now() - start)));
          req.flushHeaders();
          setImmediate(() => req.end('ping'));
        };
        if (socket.connecting) socket.once('connect', send);
        else send();
      });
    });
  try {
    const first = await one();
    const rtts: number[] = [];
    for (let i = 0; i < rounds; i++) rtts.push(await one());
    return { first, rtts };
  } finally {
    agent.destroy();
  }
}

// ---------------------------------------------------------------------------

/** For each timing claim: the measurement that stalls, and the one that must not. */
const CONTRASTS = {
  noDelay: ['nagle', 'noDelay'],
  quickAck: ['nagle', 'firsts'],
  noDelayOption: ['nagle', 'noDelayOption'],
  corked: ['nagle', 'corked'],
  bytes: ['bytesNagle', 'bytesNoDelay'],
  oneWrite: ['nagle', 'oneWrite'],
  eager: ['nagle', 'eager'],
  fullSegment: ['smallSecond', 'fullSecond'],
  serverSide: ['serverNoDelay', 'noDelay'],
  serverReplies: ['twoPieceReplies', 'twoPieceRepliesNoDelay'],
  httpServer: ['httpNagle', 'httpDefault'],
  httpAgent: ['agentNagle', 'agentDefault'],
} as const;
type Key = (typeof CONTRASTS)[keyof typeof CONTRASTS][number];

/**
 * `stalled` waits for the delayed-ACK timer (at least 40 ms on Linux) and `fast` does not.
 * Fast round trips are well under 1 ms, but with both cores busy some lose 10 ms or more
 * to scheduling, so the fast median is held only to half the stalled one, while its lower
 * quartile must be 10× faster. A fast side that stalled every round would fail both.
 * Returns what is wrong, or undefined.
 */
function contrast(stalled: Timed, fast: Timed): string | undefined {
  if (!(median(stalled.rtts) > 20)) return 'the stalled side did not stall (a median above 20 ms expected)';
  if (!(median(fast.rtts) < median(stalled.rtts) / 2)) return 'the fast side was not fast (a median below half the stalled one expected)';
  if (!(percentile(fast.rtts, 0.25) < median(stalled.rtts) / 10)) return 'the fast side was not fast (a lower quartile below a tenth of the stalled median expected)';
  return undefined;
}

const segments = (m: Timed) => (m as Measurement).dataSegments;

/** The claims on data segments (where ss counts them): what is wrong with each, or undefined. */
function segmentClaims(results: Record<Key, Timed>): { corked?: string; bytes?: string } {
  const [nagle, corked] = [segments(results.nagle), segments(results.corked)];
  const [bytesNagle, bytesNoDelay] = [segments(results.bytesNagle), segments(results.bytesNoDelay)];
  return {
    corked: !(corked! <= ROUNDS)
      ? `corked: ${corked} segments for ${ROUNDS} requests`
      : // Nagle did not merge the two pieces: it only delayed the second one.
        !(nagle! > ROUNDS)
        ? `Nagle on: ${nagle} segments for ${ROUNDS} requests`
        : undefined,
    bytes: !(bytesNagle! < bytesNoDelay!) ? `Nagle on: ${bytesNagle}; setNoDelay: ${bytesNoDelay}` : undefined,
  };
}

const ms = (m: Timed) => `median ${median(m.rtts).toFixed(2)} ms (${m.rtts.map((x) => x.toFixed(1)).join(', ')})`;

// These wait mostly for timers, not for the CPU: they run side by side.
describe('timings', { concurrency: true }, () => {
  describe('round trips on Linux loopback', { skip: notLinux, concurrency: true }, () => {
    let results: Record<Key, Timed>;

    before(async () => {
      // Everything is measured once (each case on its own connection, many at once), then asserted
      // below. A machine busy with other work can blur a measurement (a burst of scheduling delays),
      // so while any contrast is missing we measure again, up to 3 times; a real regression fails each time.
      for (let attempt = 1; attempt <= 3; attempt++) {
        results = await measureEverything();
        const blurred = Object.values(CONTRASTS).some(([stalled, fast]) => contrast(results[stalled], results[fast]));
        if (!blurred && (noSegments || !Object.values(segmentClaims(results)).some(Boolean))) break;
      }
    });

    async function measureEverything(): Promise<Record<Key, Timed>> {
      const servers: net.Server[] = [];
      const open = async (server: net.Server) => {
        servers.push(server);
        server.listen(0, HOST);
        await once(server, 'listening');
        return (server.address() as net.AddressInfo).port;
      };
      try {
        const pong = await open(createPongServer());
        const clientVariants = {
          ...VARIANTS,
          noDelayOption: { label: 'two writes, net.connect({ noDelay: true })', sending: 'two writes', noDelay: 'noDelay option' },
          oneWrite: { label: 'one write, Nagle on', sending: 'one write' },
        } satisfies Record<string, Variant>;
        // The first round of 6 fresh connections, one after another.
        const firsts = async (): Promise<Timed> => {
          const rtts: number[] = [];
          for (let i = 0; i < 6; i++) rtts.push((await roundTrips(pong, 0, (socket, n) => sendRequest(socket, n, 'two writes'))).first);
          return { first: rtts[0], rtts };
        };
        const twoWrites = (second: string | Buffer) => (socket: net.Socket) => {
          socket.write('ping ');
          socket.write(second);
        };
        const oneWrite = (socket: net.Socket, n: number) => socket.write(`ping ${n}\n`);
        // Two phases: the http parser's JavaScript would otherwise slow the fast net round trips.
        const [net1, firstRounds, serverNoDelay, eager, smallSecond, fullSecond, twoPieceReplies, twoPieceRepliesNoDelay] = await Promise.all([
          measureAll(pong, HOST, Object.values(clientVariants), ROUNDS),
          firsts(),
          open(createPongServer({ noDelay: true })).then((port) => measureAll(port, HOST, [VARIANTS.nagle], ROUNDS)),
          open(createEagerServer()).then((port) => measureAll(port, HOST, [VARIANTS.nagle], ROUNDS)),
          open(createCountingServer(5 + 1)).then((port) => roundTrips(port, ROUNDS, twoWrites('2'))),
          open(createCountingServer(5 + FULL.length)).then((port) => roundTrips(port, ROUNDS, twoWrites(FULL))),
          open(createTwoPieceReplier()).then((port) => roundTrips(port, ROUNDS, oneWrite)),
          open(createTwoPieceReplier({ noDelay: true })).then((port) => roundTrips(port, ROUNDS, oneWrite)),
        ]);
        const [httpDefault, httpNagle, agentDefault, agentNagle] = await Promise.all([
          open(http.createServer(twoWriteResponder)).then((port) => roundTrips(port, ROUNDS, httpGet, true, 'pong\n')),
          open(http.createServer({ noDelay: false }, twoWriteResponder)).then((port) => roundTrips(port, ROUNDS, httpGet, true, 'pong\n')),
          open(createWholeRequestServer()).then((port) => agentRoundTrips(port, ROUNDS, new http.Agent({ keepAlive: true, maxSockets: 1 }))),
          open(createWholeRequestServer()).then((port) =>
            agentRoundTrips(port, ROUNDS, new http.Agent({ keepAlive: true, maxSockets: 1, noDelay: false })),
          ),
        ]);
        const byVariant = Object.fromEntries(Object.keys(clientVariants).map((key, i) => [key, net1[i]]));
        return {
          ...(byVariant as Record<keyof typeof clientVariants, Measurement>),
          firsts: firstRounds,
          serverNoDelay: serverNoDelay[0],
          eager: eager[0],
          smallSecond,
          fullSecond,
          twoPieceReplies,
          twoPieceRepliesNoDelay,
          httpDefault,
          httpNagle,
          agentDefault,
          agentNagle,
        };
      } finally {
        // Every client has closed its connection by now, so close() completes.
        await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
      }
    }

    /** Assert one contrast, with both measurements in the message and in the diagnostics. */
    function check(t: TestContext, name: keyof typeof CONTRASTS, what: string): void {
      const [stalledKey, fastKey] = CONTRASTS[name];
      const stalled = results[stalledKey];
      const fast = results[fastKey];
      t.diagnostic(`${what}: stalled (${stalledKey}) ${ms(stalled)}; fast (${fastKey}) ${ms(fast)}`);
      const problem = contrast(stalled, fast);
      assert.ok(problem === undefined, `${problem}: ${what}\n  stalled (${stalledKey}): ${ms(stalled)}\n  fast (${fastKey}): ${ms(fast)}`);
    }

    test('by default (Nagle on) a request sent as two writes waits for the delayed ACK; with setNoDelay(true) it does not', (t) =>
      check(t, 'noDelay', 'Nagle on vs setNoDelay(true)'));

    test('the first round trip of a fresh connection is fast even with Nagle on: quick ACKs at connection start', (t) =>
      check(t, 'quickAck', 'later rounds vs the first round of 6 fresh connections'));

    test('net.connect({ noDelay: true }) removes the stall like setNoDelay(true)', (t) =>
      check(t, 'noDelayOption', 'Nagle on vs net.connect({ noDelay: true })'));

    test('cork()/uncork() sends the two writes together and removes the stall, with Nagle still on', (t) =>
      check(t, 'corked', 'two writes vs corked, both with Nagle on'));

    test('one write per byte also stalls with Nagle on, and not with setNoDelay(true)', (t) =>
      check(t, 'bytes', 'one write per byte: Nagle on vs setNoDelay(true)'));

    test('a request built first and sent with one write() does not stall, with Nagle still on', (t) =>
      check(t, 'oneWrite', 'two writes vs one write, both with Nagle on'));

    test('Nagle waits for an ACK, not a timer: a server that answers each piece at once (its reply carries the ACK) gets no stall', (t) =>
      check(t, 'eager', 'pong server vs eager server, client with Nagle on'));

    test("Nagle holds back only a segment smaller than a full one: write('ping ') then a 200 KiB write does not stall", (t) =>
      check(t, 'fullSegment', "write('ping '), write('2') vs write('ping '), a 200 KiB write; Nagle on"));

    test("net.createServer({ noDelay: true }) does not help a client's two writes: Nagle holds the client's second write", (t) =>
      check(t, 'serverSide', 'server noDelay, client default vs client setNoDelay(true)'));

    test('net.createServer({ noDelay: true }) is where it helps: a server that writes each reply in two pieces', (t) =>
      check(t, 'serverReplies', 'replies in two writes: net.createServer() vs net.createServer({ noDelay: true })'));

    test('http.Server turns Nagle off by itself: headers and body sent as two writes do not stall, unless { noDelay: false }', (t) =>
      check(t, 'httpServer', 'http.createServer({ noDelay: false }) vs http.createServer()'));

    test("http.Agent turns Nagle off for its requests too: headers and body as two writes do not stall, unless { noDelay: false }", (t) =>
      check(t, 'httpAgent', 'new http.Agent({ noDelay: false }) vs new http.Agent()'));

    test('corked requests leave as one data segment each; two writes with Nagle on leave as more than one', { skip: noSegments }, (t) => {
      t.diagnostic(`data segments for ${ROUNDS} requests: Nagle on ${segments(results.nagle)}, corked ${segments(results.corked)}`);
      const problem = segmentClaims(results).corked;
      assert.ok(problem === undefined, problem);
    });

    test('with Nagle on, one write per byte leaves as fewer data segments than with setNoDelay(true)', { skip: noSegments }, (t) => {
      t.diagnostic(`data segments for ${ROUNDS} requests: Nagle on ${segments(results.bytesNagle)}, setNoDelay ${segments(results.bytesNoDelay)}`);
      const problem = segmentClaims(results).bytes;
      assert.ok(problem === undefined, problem);
    });
  });

  test('write() hands the bytes to the kernel at once when it can: nothing is left in Node even while the kernel holds them', async (t) => {
    const client = await connect(t, await listen(t, createPongServer()));
    for (let n = 1; n <= 3; n++) {
      // With Nagle on, round 2 and 3 stall on Linux, yet Node's own buffer is empty right after write().
      const replied = readUntil(client, (text) => text.endsWith('\n'));
      client.write('ping ');
      client.write(`${n}\n`);
      assert.equal(client.writableLength, 0, `round ${n}: bytes still queued in Node`);
      assert.equal(await replied, `pong ${n}\n`);
    }
  });

  test('the lesson script draws the rounds, shows the stall and prints the table', async (t) => {
    const lines: string[] = [];
    t.mock.method(console, 'log', (...args: unknown[]) => lines.push(args.join(' ')));
    await main({ serve: false, port: 0, host: HOST, extra: { rounds: '2' } });
    const out = lines.join('\n');
    assert.match(out, /client +server/); // the timeline's header
    for (const variant of Object.values(VARIANTS)) assert.ok(out.includes(variant.label), `no row for ${variant.label}`);
    if (!notLinux) {
      // At least one drawn round stalled: its second write reached the server ≥ 20 ms after write().
      const waits = [...out.matchAll(/reached the server ([\d.]+) ms after its write\(\)/g)].map((m) => Number(m[1]));
      assert.ok(waits.length >= 2, `expected several drawn rounds\n${out}`);
      assert.ok(Math.max(...waits) > 20, `waits ${waits.join(', ')} ms\n${out}`);
    }
  });
});

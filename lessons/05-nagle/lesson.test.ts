import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import test, { before, describe } from 'node:test';
import { UsageError } from '../shared/cli.ts';
import { readAll, readUntil } from '../shared/read.ts';
import { HOST, connect, listen } from '../shared/testing.ts';
import {
  MAX_LINE, VARIANTS, answer, createPongServer, main, measureAll, median, percentile, roundTrip, segmentsUnavailable,
  type Measurement, type Variant,
} from './lesson.ts';

// Timings only where we know the timers: Linux delays an ACK by at least 40 ms.
// Macs and Windows use 100–200 ms delayed-ACK timers and other rules: not measured here.
const notLinux = process.platform !== 'linux' && 'round-trip timings are only checked on Linux (delayed-ACK timers differ elsewhere)';
const noSegments = (await segmentsUnavailable()) ?? false;
/** Measured rounds per variant. Each stalled round costs about 40 ms; all variants run at once. */
const ROUNDS = 10;

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

test('write() hands the bytes to the kernel at once: nothing is left in Node even while the kernel holds them', async (t) => {
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

test('--rounds must be a whole number above 0', async () => {
  await assert.rejects(main({ serve: false, port: 0, host: HOST, extra: { rounds: '0' } }), UsageError);
  await assert.rejects(main({ serve: false, port: 0, host: HOST, extra: { rounds: 'ten' } }), UsageError);
});

// ---------------------------------------------------------------------------
// HTTP: an http.Server answers with its headers, then its body (two writes).

/** Headers first (flushHeaders), then the body: two writes, like the lesson's client. */
function twoWriteResponder(req: http.IncomingMessage, res: http.ServerResponse): void {
  req.resume();
  res.writeHead(200, { 'content-length': '5' });
  res.flushHeaders();
  res.end('pong\n');
}

/**
 * Keep-alive GET requests to an http server from a plain net client with
 * Nagle off, so only the server's sockets can stall. One warm-up round first.
 */
async function httpRoundTrips(port: number, rounds: number): Promise<Measurement> {
  const client = net.connect({ port, host: HOST, noDelay: true });
  await once(client, 'connect');
  const get = async () => {
    const start = performance.now();
    const response = readUntil(client, (text) => text.endsWith('pong\n'));
    client.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
    await response;
    return performance.now() - start;
  };
  try {
    const first = await get();
    const rtts: number[] = [];
    for (let i = 0; i < rounds; i++) rtts.push(await get());
    return { variant: { label: 'http', sending: 'two writes' }, first, rtts };
  } finally {
    client.end();
    if (!client.closed) await once(client, 'close');
  }
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
      let newline: number;
      while ((newline = pending.indexOf('\n')) !== -1) {
        socket.write(answer(pending.slice(0, newline)));
        pending = pending.slice(newline + 1);
      }
    });
  });
}

// ---------------------------------------------------------------------------

describe('round trips on Linux loopback', { skip: notLinux }, () => {
  const results: Record<string, Measurement> = {};

  before(async () => {
    // Everything is measured once (each variant on its own connection, many at once), then asserted
    // below. A machine busy with other work can blur one measurement (a burst of scheduling delays),
    // so when the basic contrast is missing we measure once more; a real regression fails both times.
    Object.assign(results, await measureEverything());
    const { nagle, noDelay } = results;
    if (!(median(nagle.rtts) > 20 && median(noDelay.rtts) < median(nagle.rtts) / 2)) {
      Object.assign(results, await measureEverything());
    }
  });

  async function measureEverything(): Promise<Record<string, Measurement>> {
    const results: Record<string, Measurement> = {};
    const servers: net.Server[] = [];
    const open = async (server: net.Server) => {
      servers.push(server);
      server.listen(0, HOST);
      await once(server, 'listening');
      return (server.address() as net.AddressInfo).port;
    };
    try {
      const port = await open(createPongServer());
      const noDelayServerPort = await open(createPongServer({ noDelay: true }));
      const eagerPort = await open(createEagerServer());
      const httpDefault = await open(http.createServer(twoWriteResponder));
      const httpNagle = await open(http.createServer({ noDelay: false }, twoWriteResponder));
      const clientVariants: Record<string, Variant> = {
        ...VARIANTS,
        noDelayOption: { label: 'two writes, net.connect({ noDelay: true })', sending: 'two writes', noDelay: 'noDelay option' },
        oneWrite: { label: 'one write, Nagle on', sending: 'one write' },
      };
      // Two phases: the http parser's JavaScript would otherwise slow the fast net round trips.
      const [net1, net2, net3] = await Promise.all([
        measureAll(port, HOST, Object.values(clientVariants), ROUNDS),
        measureAll(noDelayServerPort, HOST, [VARIANTS.nagle], ROUNDS),
        measureAll(eagerPort, HOST, [VARIANTS.nagle], ROUNDS),
      ]);
      [results.httpDefault, results.httpNagle] = await Promise.all([
        httpRoundTrips(httpDefault, ROUNDS),
        httpRoundTrips(httpNagle, ROUNDS),
      ]);
      Object.keys(clientVariants).forEach((key, i) => (results[key] = net1[i]));
      results.serverNoDelay = net2[0];
      results.eager = net3[0];
    } finally {
      // Every client has closed its connection by now, so close() completes.
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    }
    return results;
  }

  const ms = (m: Measurement) => `median ${median(m.rtts).toFixed(2)} ms (${m.rtts.map((x) => x.toFixed(1)).join(', ')})`;

  /**
   * `stalled` waits for the delayed-ACK timer (at least 40 ms on Linux) and `fast` does not.
   * Fast round trips are well under 1 ms, but with both cores busy some lose 10 ms or more
   * to scheduling, so the fast median is held only to half the stalled one, while its lower
   * quartile must be 10× faster. A fast side that stalled every round would fail both.
   */
  function assertStallVersusFast(stalled: Measurement, fast: Measurement, what: string): void {
    const detail = `${what}\n  stalled: ${ms(stalled)}\n  fast: ${ms(fast)}`;
    assert.ok(median(stalled.rtts) > 20, detail);
    assert.ok(median(fast.rtts) < median(stalled.rtts) / 2, detail);
    assert.ok(percentile(fast.rtts, 0.25) < median(stalled.rtts) / 10, detail);
  }

  test('by default (Nagle on) a request sent as two writes waits for the delayed ACK; with setNoDelay(true) it does not', (t) => {
    const { nagle, noDelay } = results;
    t.diagnostic(`Nagle on: ${ms(nagle)}; setNoDelay(true): ${ms(noDelay)}`);
    assertStallVersusFast(nagle, noDelay, 'Nagle on (stalled) vs setNoDelay(true) (fast)');
  });

  test('the first round trip of a fresh connection is fast even with Nagle on: quick ACKs at connection start', async (t) => {
    const port = await listen(t, createPongServer());
    const firsts: number[] = [];
    // Several fresh connections one after another: a busy machine may delay one of them.
    for (let i = 0; i < 5; i++) {
      const client = await connect(t, port);
      firsts.push(await roundTrip(client, 1, 'two writes'));
      client.end();
      await once(client, 'close');
    }
    t.diagnostic(`first round trips: ${firsts.map((x) => x.toFixed(2)).join(', ')} ms; later rounds: ${ms(results.nagle)}`);
    // Without quick ACKs every one of them would wait for the 40 ms delayed-ACK timer.
    assert.ok(Math.min(...firsts) < median(results.nagle.rtts) / 4, `first rounds ${firsts.join(', ')} ms`);
  });

  test('net.connect({ noDelay: true }) removes the stall like setNoDelay(true)', (t) => {
    const { nagle, noDelayOption } = results;
    t.diagnostic(`noDelay option: ${ms(noDelayOption)}`);
    assertStallVersusFast(nagle, noDelayOption, 'Nagle on vs net.connect({ noDelay: true })');
  });

  test('cork()/uncork() sends the two writes together and removes the stall, with Nagle still on', (t) => {
    const { nagle, corked } = results;
    t.diagnostic(`corked: ${ms(corked)}`);
    assertStallVersusFast(nagle, corked, 'two writes vs corked, both with Nagle on');
  });

  test('one write per byte also stalls with Nagle on, and not with setNoDelay(true)', (t) => {
    const { bytesNagle, bytesNoDelay } = results;
    t.diagnostic(`Nagle on: ${ms(bytesNagle)}; setNoDelay(true): ${ms(bytesNoDelay)}`);
    assertStallVersusFast(bytesNagle, bytesNoDelay, 'one write per byte: Nagle on vs setNoDelay(true)');
  });

  test('a request built first and sent with one write() does not stall, with Nagle still on', (t) => {
    const { nagle, oneWrite } = results;
    t.diagnostic(`one write: ${ms(oneWrite)}`);
    assertStallVersusFast(nagle, oneWrite, 'two writes vs one write, both with Nagle on');
  });

  test('Nagle waits for an ACK, not a size or a timer: a server that answers each piece at once (its reply carries the ACK) gets no stall', (t) => {
    const { nagle, eager } = results;
    t.diagnostic(`eager server, client with Nagle on: ${ms(eager)}`);
    assertStallVersusFast(nagle, eager, 'pong server vs eager server, client with Nagle on');
  });

  test("setNoDelay on the server's sockets does not help: Nagle holds the client's second write", (t) => {
    const { serverNoDelay, noDelay } = results;
    t.diagnostic(`server noDelay, client default: ${ms(serverNoDelay)}`);
    assertStallVersusFast(serverNoDelay, noDelay, 'server noDelay (client default) vs client setNoDelay(true)');
  });

  test('http.Server turns Nagle off by itself: headers and body sent as two writes do not stall, unless { noDelay: false }', (t) => {
    const { httpDefault, httpNagle } = results;
    t.diagnostic(`default: ${ms(httpDefault)}; noDelay: false: ${ms(httpNagle)}`);
    assertStallVersusFast(httpNagle, httpDefault, 'http.createServer({ noDelay: false }) vs http.createServer()');
  });

  test('corked requests leave as one data segment each; two writes with Nagle on leave as more than one', { skip: noSegments }, (t) => {
    const { nagle, corked } = results;
    t.diagnostic(`data segments for ${ROUNDS} requests: Nagle on ${nagle.dataSegments}, corked ${corked.dataSegments}`);
    assert.ok(corked.dataSegments! <= ROUNDS, `corked: ${corked.dataSegments} segments for ${ROUNDS} requests`);
    // Nagle did not merge the two pieces: it only delayed the second one.
    assert.ok(nagle.dataSegments! > ROUNDS, `Nagle on: ${nagle.dataSegments} segments for ${ROUNDS} requests`);
  });

  test('with Nagle on, one write per byte leaves as fewer data segments than with setNoDelay(true)', { skip: noSegments }, (t) => {
    const { bytesNagle, bytesNoDelay } = results;
    t.diagnostic(`data segments for ${ROUNDS} requests: Nagle on ${bytesNagle.dataSegments}, setNoDelay ${bytesNoDelay.dataSegments}`);
    assert.ok(bytesNagle.dataSegments! < bytesNoDelay.dataSegments!, `Nagle on: ${bytesNagle.dataSegments}; setNoDelay: ${bytesNoDelay.dataSegments}`);
  });
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

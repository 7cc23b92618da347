import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import test, { before, describe } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { closed, readAll } from '../shared/read.ts';
import { UsageError, finishConnection } from '../shared/cli.ts';
import { HOST, ONE_READ, assertStopsReading, connect, listen, nextConnection, paused, sendWithoutReading } from '../shared/testing.ts';
import { Timeline } from '../shared/timeline.ts';
import { segmentsUnavailable } from '../05-nagle/lesson.ts';
import {
  FrameTooLargeError, HEADER_BYTES, LengthPrefixedDecoder, LineDecoder, TruncatedFrameError, encodeFrame,
} from './framing.ts';
import {
  CASES, DEFAULT_WRITES, HELLO, LARGE_WRITE_BYTES, MAX_LINE, MAX_WRITES, SMALL_WRITE, SPLIT_AT, answer, createCounter,
  createLineServer, createSplitSender, drawnLineServer, flags, main, measure, receiveSplit, serveNote, writeCase, type Case, type Measurement, type Tally,
} from './lesson.ts';

/** For tests that wait for the server: if the lesson is broken, fail instead of hanging. */
const WAITS = { timeout: 30_000 };

// ── helpers ───────────────────────────────────────────────────────────────────

/** A small seeded PRNG (xorshift32): the same seed gives the same cases on every run. */
function random(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return Math.floor((x / 2 ** 32) * n); // a whole number from 0 to n - 1
  };
}

/** Cut `bytes` into random pieces: sometimes single bytes, sometimes large runs, sometimes empty. */
function splitRandomly(bytes: Buffer, int: (n: number) => number): Buffer[] {
  const longest = [1, 2, 5, 17, bytes.length + 1][int(5)];
  const pieces: Buffer[] = [];
  for (let at = 0; at < bytes.length;) {
    const size = int(20) === 0 ? 0 : 1 + int(longest);
    pieces.push(bytes.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

function onePerByte(bytes: Buffer): Buffer[] {
  return [...bytes].map((b) => Buffer.from([b]));
}

// Characters of 1, 2, 3 and 4 UTF-8 bytes (😀 is also two UTF-16 units), never \n or \r.
const ALPHABET = ['a', 'Z', '7', ' ', '\t', '\u0000', 'é', 'ß', '你', '好', '😀'];

function randomLine(int: (n: number) => number, maxChars = 30): string {
  let line = '';
  for (let n = int(maxChars + 1); n > 0; n--) line += ALPHABET[int(ALPHABET.length)];
  return line;
}

function decodeLines(pieces: Buffer[], decoder = new LineDecoder()): string[] {
  const lines: string[] = [];
  for (const piece of pieces) decoder.push(piece, (line) => lines.push(line));
  decoder.end((line) => lines.push(line));
  return lines;
}

function decodeFrames(pieces: Buffer[], decoder = new LengthPrefixedDecoder()): Buffer[] {
  const frames: Buffer[] = [];
  for (const piece of pieces) decoder.push(piece, (frame) => frames.push(frame));
  decoder.end();
  return frames;
}

/** Messages that one push() delivers. */
function pushed<T>(decoder: { push(chunk: Buffer, on: (message: T) => void): void }, chunk: Buffer): T[] {
  const out: T[] = [];
  decoder.push(chunk, (message) => out.push(message));
  return out;
}

/** Push pieces until the decoder throws; returns what came out before and the error. */
function pushUntilError<T>(decoder: { push(chunk: Buffer, on: (message: T) => void): void }, pieces: Buffer[]): { out: T[]; error: unknown } {
  const out: T[] = [];
  for (const piece of pieces) {
    try {
      decoder.push(piece, (message) => out.push(message));
    } catch (error) {
      return { out, error };
    }
  }
  return { out, error: undefined };
}

/**
 * A receiver that is late: it reads nothing until every write() callback on
 * the client has run (all the bytes were handed to the kernel), then reads
 * what piled up. `pauseOnConnect`: Node does not read from the accepted socket until resume().
 */
async function countWithLateReader(t: test.TestContext, name: Case): Promise<Tally & { writes: number }> {
  const server = createCounter({ pauseOnConnect: true });
  const accepted = nextConnection(server);
  const client = await connect(t, await listen(t, server), { noDelay: true });
  const reply = readAll(client);
  const writes = await writeCase(client, name);
  (await accepted).resume();
  client.end();
  return { writes, ...(JSON.parse((await reply).toString()) as Tally) };
}

const segmentsMissing = (await segmentsUnavailable()) ?? false;

// ── writes vs 'data' events, and the client's data segments ──────────────────

describe('the four ways of writing, measured once on a reader that reads as soon as it can', { concurrency: true }, () => {
  const seen = {} as Record<Case, Measurement>;
  before(async () => {
    const server = createCounter();
    server.listen(0, HOST);
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    try {
      // One case after another: each case's timing is the point, so none shares the event loop with another.
      for (const name of CASES) seen[name] = await measure(port, HOST, name);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
  const small = DEFAULT_WRITES * SMALL_WRITE.length;
  const show = (m: Measurement) => `${m.writes} writes: ${m.events} 'data' events, ${m.segments ?? '?'} data segments, ${m.bytes} B`;

  test("writes in one tick arrive as fewer 'data' events than writes: the receiver cannot read between them", (t) => {
    const m = seen['same tick'];
    t.diagnostic(show(m));
    assert.equal(m.writes, DEFAULT_WRITES);
    assert.equal(m.bytes, small);
    assert.ok(m.events <= m.writes / 2, `expected at most ${m.writes / 2} 'data' events (usually 1 or 2) for ${show(m)}`);
  });

  test("the same writes one per event-loop turn all arrive, and the receiver reads between them: many more 'data' events", (t) => {
    const spread = seen['one per setImmediate'];
    const tick = seen['same tick'];
    t.diagnostic(`one per turn: ${show(spread)}; same tick: ${show(tick)}`);
    assert.equal(spread.writes, DEFAULT_WRITES);
    assert.equal(spread.bytes, small, 'every byte arrives');
    // Usually one event per write; the test asks for half of that, and more than twice the same-tick count.
    assert.ok(spread.events > spread.writes / 2, `expected more than ${spread.writes / 2} 'data' events for ${show(spread)}`);
    assert.ok(spread.events > 2 * tick.events, `expected far more 'data' events than the ${tick.events} of the same-tick writes`);
  });

  test("corked writes reach the receiver as fewer 'data' events", (t) => {
    const m = seen.corked;
    t.diagnostic(show(m));
    assert.equal(m.writes, DEFAULT_WRITES);
    assert.equal(m.bytes, small);
    assert.ok(m.events <= m.writes / 2, `expected at most ${m.writes / 2} 'data' events (usually 1) for ${show(m)}`);
  });

  test("one large write arrives as several 'data' events, none larger than 64 KiB", (t) => {
    const m = seen['one large write'];
    t.diagnostic(`${show(m)}, largest ${m.largest} B`);
    assert.equal(m.writes, 1);
    assert.equal(m.bytes, LARGE_WRITE_BYTES);
    assert.ok(m.events > 1, `1 MiB arrived as ${m.events} 'data' event(s)`);
    assert.ok(m.largest <= ONE_READ, `largest 'data' chunk: ${m.largest} bytes`);
  });

  test('the sender merges too, with Nagle off: writes in one tick leave the client as fewer data segments than writes, one per turn as one each', { skip: segmentsMissing }, (t) => {
    const tick = seen['same tick'];
    const spread = seen['one per setImmediate'];
    t.diagnostic(`same tick: ${show(tick)}; one per turn: ${show(spread)}`);
    // About 35 of 100 on Linux: once the congestion window is full, the rest wait in the kernel and leave together.
    assert.ok(tick.segments! < tick.writes, `expected fewer data segments than writes for ${show(tick)}`);
    // Spread over turns, each write is acknowledged before the next comes, so each leaves alone.
    assert.ok(spread.segments! > spread.writes / 2, `expected about one data segment per write for ${show(spread)}`);
    assert.ok(spread.segments! > tick.segments!, `expected more data segments one per turn (${show(spread)}) than in one tick (${show(tick)})`);
  });

  test('a few writes in one tick each leave as their own segment: the sender merges only once the congestion window is full', { skip: segmentsMissing }, async (t) => {
    const port = await listen(t, createCounter());
    const few = await measure(port, HOST, 'same tick', 10);
    t.diagnostic(`10 writes in one tick: ${show(few)}; 100: ${show(seen['same tick'])}`);
    assert.equal(few.bytes, 10 * SMALL_WRITE.length);
    assert.ok(few.segments! > few.writes / 2, `expected about one data segment per write for ${show(few)}`);
  });

  test('corked writes leave the client as one data segment', { skip: segmentsMissing }, (t) => {
    const m = seen.corked;
    t.diagnostic(show(m));
    // One writev() of 1000 bytes, far below one segment's size (MSS): one segment, two at most.
    assert.ok(m.segments! <= 2, `expected 1 data segment for ${show(m)}`);
  });
});

test("a receiver that reads late gets what piled up in one read, even for writes spread over event-loop turns", WAITS, async (t) => {
  const seen = await countWithLateReader(t, 'one per setImmediate');
  assert.equal(seen.writes, DEFAULT_WRITES);
  assert.equal(seen.bytes, DEFAULT_WRITES * SMALL_WRITE.length);
  assert.ok(seen.events <= seen.writes / 2, `${seen.writes} writes arrived at a late reader as ${seen.events} 'data' events (usually 1)`);
});

test('npm run lesson 06 prints the four cases measured in that run, a timeline and the 你好 split', WAITS, async (t) => {
  const printed: string[] = [];
  t.mock.method(console, 'log', (...args: unknown[]) => printed.push(args.join(' ')));
  await main({ serve: false, port: 0, host: HOST, extra: { writes: '20' } });
  const output = printed.join('\n');
  for (const name of CASES) {
    const bytes = name === 'one large write' ? LARGE_WRITE_BYTES : 20 * SMALL_WRITE.length;
    const segments = segmentsMissing ? '—' : '\\d+';
    assert.match(output, new RegExp(`^${name} +(1|20) +${segments} +\\d+ +${bytes} +\\d+$`, 'm'), `a row for ${name}`);
  }
  if (segmentsMissing) assert.ok(output.includes(segmentsMissing), 'says why there are no data segments');
  assert.match(output, /write\(\) "two\\nthr" 7 B/);
  assert.match(output, /line "one"[^]*line "two"[^]*line "three"/);
  assert.match(output, /decoded alone: +"你\ufffd+"/);
  assert.match(output, /StringDecoder \/ setEncoding: +"你好"/);
});

test('--writes takes a whole number from 1 to 10000, and the flag help says so', async () => {
  for (const bad of ['0', '10001', 'many', '1e3']) {
    await assert.rejects(main({ serve: false, port: 0, host: HOST, extra: { writes: bad } }), (err: unknown) => {
      assert.ok(err instanceof UsageError, `--writes ${bad}: ${err}`);
      assert.equal(err.message, `--writes must be a whole number from 1 to ${MAX_WRITES} (got ${JSON.stringify(bad)})`);
      return true;
    });
  }
  assert.equal(MAX_WRITES, 10_000);
  assert.match(flags.writes.help, /default 100, at most 10000/);
});

test('the --serve note names the real host and port, never placeholders', () => {
  const note = serveNote('127.0.0.1', 40123);
  assert.match(note, /nc -N 127\.0\.0\.1 40123/);
  assert.match(note, /nc 127\.0\.0\.1 40123, type abc/);
  assert.doesNotMatch(note, /\bHOST\b|\bPORT\b/);
});

// ── the UTF-8 trap ────────────────────────────────────────────────────────────

test("decoding each 'data' chunk alone turns a character split across chunks into U+FFFD", WAITS, async (t) => {
  const chunks = await receiveSplit(await listen(t, createSplitSender()), HOST);
  assert.deepEqual(Buffer.concat(chunks), HELLO);
  const ends = chunks.map((_, i) => Buffer.concat(chunks.slice(0, i + 1)).length);
  assert.ok(ends.includes(SPLIT_AT), `a chunk ends inside 好, after byte ${SPLIT_AT}; chunks end at ${ends.join(', ')}`);
  const alone = chunks.map((chunk) => chunk.toString('utf8')).join('');
  assert.notEqual(alone, '你好');
  assert.match(alone, /\ufffd/);
});

test("setEncoding('utf8') holds back an incomplete character until the rest arrives", WAITS, async (t) => {
  const client = await connect(t, await listen(t, createSplitSender()));
  client.setEncoding('utf8');
  const texts: string[] = [];
  client.on('data', (text: string) => {
    texts.push(text);
    if (texts.length === 1) client.write('got it'); // now the server sends the rest of 好
  });
  await once(client, 'end');
  assert.equal(texts[0], '你', 'the first part ends inside 好, so only 你 is emitted');
  assert.equal(texts.join(''), '你好');
});

test('a StringDecoder, or joining the bytes before decoding, gets 你好 right', WAITS, async (t) => {
  const chunks = await receiveSplit(await listen(t, createSplitSender()), HOST);
  const decoder = new StringDecoder('utf8');
  assert.equal(chunks.map((chunk) => decoder.write(chunk)).join('') + decoder.end(), '你好');
  assert.equal(Buffer.concat(chunks).toString('utf8'), '你好');
});

// ── LineDecoder ───────────────────────────────────────────────────────────────

test('LineDecoder: 1-byte pieces and the whole stream at once give the same lines', () => {
  const lines = ['hello', '', '你好, world 😀', 'tab\there', 'last'];
  const bytes = Buffer.from(`${lines.join('\n')}\n`);
  assert.deepEqual(decodeLines([bytes]), lines);
  assert.deepEqual(decodeLines(onePerByte(bytes)), lines);
});

test('LineDecoder: 500 random splits (fixed seed) all give the same lines', () => {
  const int = random(0x06c0a1e5);
  for (let n = 0; n < 500; n++) {
    const lines = Array.from({ length: int(10) }, () => randomLine(int));
    const bytes = Buffer.from(lines.map((line) => `${line}\n`).join(''));
    const pieces = splitRandomly(bytes, int);
    assert.deepEqual(decodeLines(pieces), lines, `case ${n}: pieces of ${pieces.map((p) => p.length).join(',')} bytes`);
  }
});

test('LineDecoder: a character split across chunks comes out whole', () => {
  const decoder = new LineDecoder();
  const bytes = Buffer.from('你好\n');
  assert.deepEqual(pushed(decoder, bytes.subarray(0, SPLIT_AT)), []);
  assert.deepEqual(pushed(decoder, bytes.subarray(SPLIT_AT)), ['你好']);
});

test('LineDecoder: \\r\\n ends a line too; a \\r elsewhere is kept', () => {
  assert.deepEqual(pushed(new LineDecoder(), Buffer.from('telnet\r\nnc\nodd\rline\n')), ['telnet', 'nc', 'odd\rline']);
});

test('LineDecoder: end() returns a last line that has no newline', () => {
  const decoder = new LineDecoder();
  assert.deepEqual(pushed(decoder, Buffer.from('one\ntw')), ['one']);
  const last: string[] = [];
  decoder.end((line) => last.push(line));
  assert.deepEqual(last, ['tw']);
  decoder.end((line) => last.push(line));
  assert.deepEqual(last, ['tw'], 'nothing left after the first end()');
});

test('LineDecoder: a line of exactly maxBytes is accepted; one byte more is refused with FrameTooLargeError', () => {
  assert.deepEqual(pushed(new LineDecoder({ maxBytes: 8 }), Buffer.from('12345678\n')), ['12345678']);
  assert.throws(() => pushed(new LineDecoder({ maxBytes: 8 }), Buffer.from('123456789\n')), (err: unknown) => {
    assert.ok(err instanceof FrameTooLargeError);
    assert.equal(err.limit, 8);
    assert.equal(err.size, 9);
    assert.match(err.message, /9 bytes is over the limit of 8 bytes/);
    return true;
  });
});

test('LineDecoder: a line with no newline is refused as soon as the buffered bytes pass the limit', () => {
  const limit = 1000;
  const decoder = new LineDecoder({ maxBytes: limit });
  for (let i = 0; i < limit; i++) pushed(decoder, Buffer.from('x'));
  assert.equal(decoder.pendingBytes, limit);
  assert.throws(() => pushed(decoder, Buffer.from('x')), /over the limit of 1000 bytes: 1001 bytes and no newline yet/);
});

test('LineDecoder: a 10 MiB line without a newline fails within the first 64 KiB past the limit', () => {
  const decoder = new LineDecoder({ maxBytes: ONE_READ });
  const chunk = Buffer.alloc(ONE_READ, 'x');
  let fed = 0;
  assert.throws(() => {
    for (; fed < 10 * 1024 * 1024; fed += chunk.length) {
      pushed(decoder, chunk);
      assert.ok(decoder.pendingBytes <= ONE_READ, `buffered ${decoder.pendingBytes} bytes`);
    }
  }, FrameTooLargeError);
  assert.equal(fed, ONE_READ, 'refused on the second 64 KiB chunk');
});

test('LineDecoder: after refusing a line it refuses all further input', () => {
  const decoder = new LineDecoder({ maxBytes: 2 });
  assert.throws(() => pushed(decoder, Buffer.from('abc')), FrameTooLargeError);
  assert.throws(() => pushed(decoder, Buffer.from('\n')), /out of sync/);
  assert.throws(() => decoder.end(() => {}), /out of sync/);
});

test('LineDecoder: 200 random streams with one line over the limit: the same lines, then the refusal, however split', () => {
  const int = random(42);
  for (let n = 0; n < 200; n++) {
    const limit = 20;
    const good: string[] = [];
    while (good.length < int(6)) {
      const line = randomLine(int, 8);
      if (Buffer.byteLength(line) <= limit) good.push(line);
    }
    let long = randomLine(int, 10) + 'x'.repeat(limit + 1);
    if (int(2) === 0) long += '\n'; // refused with or without its newline
    const bytes = Buffer.from(good.map((line) => `${line}\n`).join('') + long);
    for (const pieces of [[bytes], onePerByte(bytes), splitRandomly(bytes, int)]) {
      const { out, error } = pushUntilError(new LineDecoder({ maxBytes: limit }), pieces);
      assert.ok(error instanceof FrameTooLargeError, `case ${n}: expected FrameTooLargeError, got ${error}`);
      assert.deepEqual(out, good, `case ${n}: every line before the long one comes out first`);
    }
  }
});

test('LineDecoder: reusing the pushed buffer afterwards does not change the result', () => {
  const decoder = new LineDecoder();
  const chunk = Buffer.from('abc');
  pushed(decoder, chunk);
  chunk.write('XYZ');
  assert.deepEqual(pushed(decoder, Buffer.from('\n')), ['abc']);
});

// ── length-prefixed frames ───────────────────────────────────────────────────

test('encodeFrame: a 4-byte big-endian length, then the payload (strings as UTF-8)', () => {
  assert.equal(HEADER_BYTES, 4);
  assert.deepEqual(encodeFrame('hi'), Buffer.from([0, 0, 0, 2, 0x68, 0x69]));
  assert.deepEqual(encodeFrame(Buffer.alloc(258)).subarray(0, 4), Buffer.from([0, 0, 1, 2]));
  assert.deepEqual(encodeFrame('你好'), Buffer.concat([Buffer.from([0, 0, 0, 6]), HELLO]));
  assert.deepEqual(encodeFrame(''), Buffer.alloc(4));
});

test('LengthPrefixedDecoder: 1-byte pieces and the whole stream at once give the same frames', () => {
  const frames = [Buffer.from('hello'), Buffer.alloc(0), Buffer.from([0x0a, 0x00, 0xff]), HELLO, Buffer.alloc(20_000, 7)];
  const bytes = Buffer.concat(frames.map((frame) => encodeFrame(frame)));
  assert.deepEqual(decodeFrames([bytes], new LengthPrefixedDecoder({ maxBytes: 100_000 })), frames);
  assert.deepEqual(decodeFrames(onePerByte(bytes), new LengthPrefixedDecoder({ maxBytes: 100_000 })), frames);
});

test('LengthPrefixedDecoder: 500 random splits (fixed seed) all give the same frames', () => {
  const int = random(0x1e9f);
  for (let n = 0; n < 500; n++) {
    const frames = Array.from({ length: int(8) }, () => Buffer.from(Array.from({ length: int(4) === 0 ? 0 : int(300) }, () => int(256))));
    const bytes = Buffer.concat(frames.map((frame) => encodeFrame(frame)));
    const pieces = splitRandomly(bytes, int);
    assert.deepEqual(decodeFrames(pieces), frames, `case ${n}: pieces of ${pieces.map((p) => p.length).join(',')} bytes`);
  }
});

test('LengthPrefixedDecoder: a length over the limit is refused right after the header, before any payload', () => {
  assert.deepEqual(pushed(new LengthPrefixedDecoder({ maxBytes: 8 }), encodeFrame('12345678')), [Buffer.from('12345678')]);
  const decoder = new LengthPrefixedDecoder({ maxBytes: 8 });
  const header = encodeFrame('123456789').subarray(0, HEADER_BYTES);
  assert.deepEqual(pushed(decoder, header.subarray(0, 3)), []);
  assert.throws(() => pushed(decoder, header.subarray(3)), (err: unknown) => {
    assert.ok(err instanceof FrameTooLargeError);
    assert.equal(err.limit, 8);
    assert.equal(err.size, 9);
    assert.match(err.message, /frame of 9 bytes is over the limit of 8 bytes/);
    return true;
  });
  assert.throws(() => pushed(decoder, Buffer.from('x')), /out of sync/);
});

test('LengthPrefixedDecoder: a 4 GiB length is refused at once, without waiting for the payload', () => {
  const decoder = new LengthPrefixedDecoder();
  assert.throws(() => pushed(decoder, Buffer.from([0xff, 0xff, 0xff, 0xff])), /4294967295 bytes is over the limit of 65536 bytes/);
});

test('LengthPrefixedDecoder: 200 random streams with one frame over the limit: the same frames, then the refusal, however split', () => {
  const int = random(7);
  for (let n = 0; n < 200; n++) {
    const limit = 20;
    const good = Array.from({ length: int(6) }, () => Buffer.from(Array.from({ length: int(limit + 1) }, () => int(256))));
    const bytes = Buffer.concat([...good.map((frame) => encodeFrame(frame)), encodeFrame(Buffer.alloc(limit + 1 + int(100))).subarray(0, HEADER_BYTES + int(5))]);
    for (const pieces of [[bytes], onePerByte(bytes), splitRandomly(bytes, int)]) {
      const { out, error } = pushUntilError(new LengthPrefixedDecoder({ maxBytes: limit }), pieces);
      assert.ok(error instanceof FrameTooLargeError, `case ${n}: expected FrameTooLargeError, got ${error}`);
      assert.deepEqual(out, good, `case ${n}: every frame before the long one comes out first`);
    }
  }
});

test('LengthPrefixedDecoder: end() inside a frame throws TruncatedFrameError', () => {
  const whole = new LengthPrefixedDecoder();
  assert.deepEqual(pushed(whole, encodeFrame('done')), [Buffer.from('done')]);
  assert.doesNotThrow(() => whole.end());
  const cut = new LengthPrefixedDecoder();
  assert.deepEqual(pushed(cut, encodeFrame('done').subarray(0, 6)), []);
  assert.throws(() => cut.end(), (err: unknown) => {
    assert.ok(err instanceof TruncatedFrameError);
    assert.match(err.message, /2 of 4 payload bytes/);
    return true;
  });
  const header = new LengthPrefixedDecoder();
  assert.deepEqual(pushed(header, Buffer.from([0, 0])), []);
  assert.throws(() => header.end(), /inside a frame header: 2 of 4 bytes/);
});

// ── the line server, over a real socket ──────────────────────────────────────

/** Write `bytes` in random pieces, one write per event-loop turn, then end. */
async function writeInPieces(client: net.Socket, bytes: Buffer, int: (n: number) => number): Promise<void> {
  for (const piece of splitRandomly(bytes, int)) {
    if (piece.length === 0) continue; // an empty write sends nothing
    client.write(piece);
    await nextTurn();
  }
  client.end();
}

test('the line server answers every line, however the client writes split the bytes', WAITS, async (t) => {
  const port = await listen(t, createLineServer());
  const int = random(2024);
  for (let n = 0; n < 5; n++) {
    const lines = Array.from({ length: 1 + int(20) }, () => randomLine(int));
    const client = await connect(t, port);
    const replies = readAll(client);
    await writeInPieces(client, Buffer.from(lines.map((line) => `${line}\n`).join('')), int);
    assert.equal((await replies).toString(), lines.map((line, i) => answer(i + 1, line)).join(''), `case ${n}`);
  }
});

test('the line server answers a last line without a newline once the client ends', WAITS, async (t) => {
  const client = await connect(t, await listen(t, createLineServer()));
  const replies = readAll(client);
  client.end('first\nno newline');
  assert.equal((await replies).toString(), answer(1, 'first') + answer(2, 'no newline'));
});

test('the line server refuses a line over MAX_LINE and hangs up, without waiting for a newline', WAITS, async (t) => {
  const client = await connect(t, await listen(t, createLineServer()));
  const replies = readAll(client); // resolves on the server's FIN
  client.write(`ok\n${'x'.repeat(MAX_LINE + 1)}`);
  assert.match((await replies).toString(), /^line 1: ok\nline is over the limit of 1024 bytes: 1025 bytes and no newline yet, bye\n$/);
});

test('length-prefixed frames survive a real socket: a frame echo server, random client writes', WAITS, async (t) => {
  // The server decodes frames from whatever chunks arrive and sends each payload back as a frame.
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    const decoder = new LengthPrefixedDecoder();
    socket.on('data', (chunk: Buffer) => decoder.push(chunk, (payload) => socket.write(encodeFrame(payload))));
    socket.on('end', () => decoder.end());
  });
  const client = await connect(t, await listen(t, server));
  const int = random(99);
  const frames = Array.from({ length: 20 }, () => Buffer.from(Array.from({ length: int(300) }, () => int(256))));
  const echoed = readAll(client);
  await writeInPieces(client, Buffer.concat(frames.map((frame) => encodeFrame(frame))), int);
  assert.deepEqual(decodeFrames([await echoed]), frames);
});

// ── back-pressure, and --serve ─────────────────────────────────────────────────

test(
  'a client that never reads leaves the line server holding at most writableHighWaterMark + the answers to one read, ' +
    'and readableHighWaterMark + one read of input; once it reads, every answer arrives',
  WAITS,
  async (t) => {
    const server = createLineServer();
    const accepted = nextConnection(server);
    const client = await connect(t, await listen(t, server));
    const socket = await accepted;
    const text = 'x'.repeat(999); // lines of 1000 B with their \n
    const chunk = Buffer.from(`${text}\n`.repeat(65));
    const total = chunk.length * 512; // 33 MB
    const lines = total / (text.length + 1);
    const answersToOneRead = Math.ceil(ONE_READ / (text.length + 1)) * answer(lines, text).length;
    const sender = await assertStopsReading(t, client, socket, chunk, total, answersToOneRead);

    // Now the client stops sending and reads: the server resumes on 'drain', and every line gets its answer, in order.
    sender.stop();
    const replies = readAll(client);
    await sender.done;
    client.end();
    const expected = Array.from({ length: sender.sent() / (text.length + 1) }, (_, i) => answer(i + 1, text)).join('');
    const got = (await replies).toString();
    assert.equal(got.length, expected.length, `answers: ${got.length} B, expected ${expected.length} B`);
    assert.ok(got === expected, 'every answer arrives, in order');
  },
);

test('when --serve stops, a connection whose client did not read gets its queued answers, then a FIN', WAITS, async (t) => {
  const server = drawnLineServer(new Timeline({ live: true, print: () => {} }));
  const accepted = nextConnection(server);
  // allowHalfOpen: the client goes on sending after the server's FIN (otherwise Node would end it then).
  const client = await connect(t, await listen(t, server), { allowHalfOpen: true });
  const socket = await accepted;
  const text = 'y'.repeat(999);
  const sender = sendWithoutReading(client, Buffer.from(`${text}\n`.repeat(65)), 65_000 * 512);
  const stopped = await Promise.race([paused(socket).then(() => true), sender.done.then(() => false)]);
  assert.ok(stopped, 'the server paused for the client that does not read');
  finishConnection(socket); // what serve() does to every open connection on Ctrl-C or SIGTERM
  const got = (await readAll(client)).toString(); // until the server's FIN
  sender.stop();
  await sender.done; // the server reads and discards what is still on the way
  client.end();
  const answers = got.split('\n').slice(0, -1);
  assert.ok(answers.length > 0 && got.endsWith('\n'), `whole answers, then the FIN: got ${got.length} B`);
  answers.forEach((line, i) => assert.ok(`${line}\n` === answer(i + 1, text), `answer ${i + 1} is ${JSON.stringify(line.slice(0, 20))}…`));
  assert.equal(await closed(client), false, 'closed cleanly, no reset');
});

for (const [name, make] of [
  ['counter', createCounter],
  ['line server', createLineServer],
  ['split sender', createSplitSender],
  ['--serve server', () => drawnLineServer(new Timeline({ live: true, print: () => {} }))],
] as const) {
  test(`a client that resets does not crash the ${name}`, WAITS, async (t) => {
    const server = make();
    const port = await listen(t, server);
    const accepted = once(server, 'connection') as Promise<[net.Socket]>;
    const rude = await connect(t, port);
    const [socket] = await accepted;
    rude.resetAndDestroy(); // RST, not FIN: nothing was written on this socket
    // A plain listener: once() would also listen for 'error' and hide a missing one.
    const hadError = await new Promise((resolve) => socket.on('close', resolve));
    assert.equal(hadError, true, 'the server side saw the reset as an error');
    // Still serving:
    if (name === 'split sender') assert.deepEqual(Buffer.concat(await receiveSplit(port, HOST)), HELLO);
    else if (name === 'counter') assert.equal((await measure(port, HOST, 'corked', 3)).bytes, 3 * SMALL_WRITE.length);
    else {
      const polite = await connect(t, port);
      const replies = readAll(polite);
      polite.end('hi\n');
      assert.equal((await replies).toString(), answer(1, 'hi'));
    }
  });
}

// The check for exercise 04: run it with `npm run check 04`.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Signal, defineCheck, fail, formatBytes, show, type Check } from '../shared/check/index.ts';
import type * as Exercise from './exercise.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The byte-exact round trip: random bytes, every byte value present. */
const PAYLOAD_SIZE = 256 * KiB;
/** Odd-sized writes, so the chunks your server reads match nothing the client wrote. */
const PAYLOAD_PIECE = 65_521;
/** The client that does not read writes pieces of this size. */
const FLOOD_PIECE = 64 * KiB;
/**
 * It stops sending when your server stops reading. A server that never stops
 * and holds nothing would keep it sending for ever: this is where it gives up.
 */
const FLOOD_CAP = 64 * MiB;

const SHORT = 'Hello, TCP! abc xyz ABC 0123 @[`{\n';
/** Why bytes can go missing at the client's FIN, and what to do. */
const LATE_TRANSFORM =
  "By default (allowHalfOpen: false) Node ends your side right after the client's 'end'. A Transform that calls back at once has handed on every byte by then; " +
  'one that calls back later (after setImmediate, a timer or I/O), or holds many bytes (a large highWaterMark, a queue of your own), may still hold some, and they come after your FIN and are lost. ' +
  'Call back at once, or create the server with { allowHalfOpen: true } and let pipe() or pipeline() end the socket after the last byte';
const AFTER_RESET = 'still there?';

/** The check's own shout: a–z become A–Z, every other byte stays as it was. */
function shouted(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i += 1) {
    if (out[i] >= 0x61 && out[i] <= 0x7a) out[i] -= 0x20;
  }
  return out;
}

/** Random bytes that contain every byte value at least once. */
function randomPayload(length: number): Buffer {
  const payload = randomBytes(length);
  for (let value = 0; value < 256; value += 1) payload[1000 + value * 13] = value;
  return payload;
}

function hex(bytes: Buffer): string {
  return bytes.length === 0 ? '(nothing)' : bytes.toString('hex').replace(/(..)/g, '$1 ').trim();
}

function describeByte(byte: number): string {
  const shown = byte >= 0x20 && byte < 0x7f ? ` ${JSON.stringify(String.fromCharCode(byte))}` : '';
  return `0x${byte.toString(16).padStart(2, '0')}${shown}`;
}

/** Fail with the first byte where `got` differs from `want` (the shout of `sent`). */
function explainDifference(sent: Buffer, want: Buffer, got: Buffer): never {
  let at = 0;
  while (at < want.length && at < got.length && want[at] === got[at]) at += 1;
  const from = Math.max(0, at - 4);
  const around = (b: Buffer) => `${from > 0 ? '… ' : ''}${hex(b.subarray(from, at + 8))}${b.length > at + 8 ? ' …' : ''}`;
  const byte = sent[at];
  let why: string;
  if (byte === undefined) why = 'more bytes came back than the client sent';
  else if (byte >= 0x61 && byte <= 0x7a) why = `the client sent ${describeByte(byte)}, a letter a–z: it must come back in upper case, ${describeByte(byte - 0x20)}`;
  else if (byte >= 0x80) {
    why =
      `the client sent ${describeByte(byte)}, which is not a letter a–z, so it must come back unchanged. ` +
      'Bytes from 0x80 up are not ASCII: decoding them as text (toString()) or upper-casing text changes them, e.g. into ef bf bd (U+FFFD)';
  } else why = `the client sent ${describeByte(byte)}, which is not a letter a–z, so it must come back unchanged`;
  fail(`the bytes that came back differ from byte ${at} on: ${why}`, {
    expected: `from byte ${from}: ${around(want)}`,
    actual: `from byte ${from}: ${around(got)}`,
  });
}

/** Write `data` in pieces, waiting for 'drain' whenever write() says so; stops if the socket closes. */
async function writeWithBackPressure(socket: net.Socket, data: Buffer, piece: number): Promise<void> {
  for (let at = 0; at < data.length && !socket.destroyed; at += piece) {
    if (socket.write(data.subarray(at, at + piece))) continue;
    await new Promise<void>((resolve) => {
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }
}

/** What the check sees of one connection your server accepted. */
interface Watched {
  socket: net.Socket;
  /** largest socket.writableLength right after one of your server's write() calls */
  peak: number;
  /** the biggest single write() */
  biggestWrite: number;
  /** the biggest single read: one chunk Node pushed into the socket */
  biggestRead: number;
  /** bytes passed to write() in all */
  written: number;
  /** your server stopped reading: its read buffer was full and stayed full */
  stopped: boolean;
  closed: boolean;
  /** at 'close': had your server ended its side (end(), pipe, pipeline), or only destroyed the socket? */
  endedBeforeClose?: boolean;
}

/**
 * Watch an accepted socket without changing how it behaves: no 'data' or
 * 'readable' listener (either would change how it reads), only wrappers
 * around write() and push() that measure, then do what they always do.
 */
function watch(socket: net.Socket, changed: Signal): Watched {
  const w: Watched = { socket, peak: 0, biggestWrite: 0, biggestRead: 0, written: 0, stopped: false, closed: false };
  // Every byte your server holds unsent went in through write(): sampling
  // writableLength right after each call sees the largest amount it held.
  const write = socket.write as (...args: unknown[]) => boolean;
  socket.write = function (this: net.Socket, ...args: unknown[]): boolean {
    const more = write.apply(this, args);
    const chunk = args[0];
    const size = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk instanceof Uint8Array ? chunk.byteLength : 0;
    w.biggestWrite = Math.max(w.biggestWrite, size);
    w.written += size;
    w.peak = Math.max(w.peak, this.writableLength);
    changed.notify();
    return more;
  } as net.Socket['write'];
  // Node calls push() with each chunk it reads from the kernel. false means the
  // socket's read buffer is full, so Node stops reading from the kernel. If the
  // buffer is still full a turn of the event loop later, nobody is taking bytes
  // out: your server has stopped reading. (A server that reads on takes them out
  // within the same turn, in its 'data', 'readable' or for-await code.)
  const push = socket.push;
  socket.push = function (this: net.Socket, chunk: unknown, encoding?: BufferEncoding): boolean {
    const more = push.call(this, chunk, encoding);
    if (chunk instanceof Uint8Array) w.biggestRead = Math.max(w.biggestRead, chunk.byteLength);
    if (!more && chunk !== null) {
      setImmediate(() => {
        if (!socket.destroyed && socket.readableLength >= socket.readableHighWaterMark) {
          w.stopped = true;
          changed.notify();
        }
      });
    }
    return more;
  };
  socket.once('close', () => {
    w.closed = true;
    w.endedBeforeClose = socket.writableEnded;
    changed.notify();
  });
  // This listener and the harness's two 'close' listeners are not yours: raise the limit by as
  // many, so that a pipeline() (eight 'close' listeners of its own) warns no sooner than it would.
  socket.setMaxListeners(socket.getMaxListeners() + 3);
  return w;
}

export default defineCheck<typeof Exercise>(async (c) => {
  const startShoutEcho = await c.exported('startShoutEcho');
  const server = await c.step('calling startShoutEcho()', () => c.serverFrom(startShoutEcho(), 'startShoutEcho()'));

  // Prepended, so the check sees each socket before your code touches it.
  const changed = new Signal();
  const accepted: Watched[] = [];
  server.prependListener('connection', (socket: net.Socket) => {
    accepted.push(watch(socket, changed));
    changed.notify();
  });
  try {
    await steps(c, server, changed, accepted);
  } finally {
    // Node announces an accepted socket (diagnostics_channel, which the harness uses to close
    // everything) only after the 'connection' listeners ran: if yours threw, that socket is ours to close.
    for (const w of accepted) if (!w.socket.destroyed) w.socket.destroy();
  }
});

async function steps(c: Check<typeof Exercise>, server: net.Server, changed: Signal, accepted: Watched[]): Promise<void> {
  /** Your server's side of the check's `client`. */
  const serverSide = async (client: net.Socket, name: string): Promise<Watched> => {
    let found: Watched | undefined;
    await changed.until(() => (found = accepted.find((w) => w.socket.remotePort === client.localPort)) !== undefined);
    c.name(found!.socket, name);
    return found!;
  };

  await c.step("waiting for your server to emit 'listening'", (s) => c.listening(server, s));
  const { port } = await c.step('checking where your server listens', () => c.expectLoopbackPort0(server));

  // ── a short message ──────────────────────────────────────────────────────

  const short = Buffer.from(SHORT);
  const shortBack = shouted(short);
  const { first, firstSide } = await c.step('connecting to your server', async () => {
    const client = await c.connect(port, { name: 'the first client' });
    return { first: client, firstSide: await serverSide(client, 'your side of the first connection') };
  });
  // Room for a few bytes more than the message, to see what a wrong answer adds.
  const firstRx = c.record(first, { maxBytes: shortBack.length + 1024, from: 'your server' });

  await c.step('shouting a short message back', async (s) => {
    s.timeoutMessage = 'the client sent a short message and waits for it (without ending), but your server did not send all of it back: send each chunk back as it arrives';
    s.expected = show(shortBack);
    s.actual = () => firstRx.describe();
    first.write(short);
    await firstRx.wait((r) => r.received >= shortBack.length || r.gotEnd, 'the shouted message');
    const got = firstRx.bytes.subarray(0, shortBack.length);
    if (got.equals(shortBack)) return;
    // Something else came first, or instead: give the rest of the echo a moment to arrive, then say what came.
    const rest = firstRx.wait((r) => r.bytes.includes(shortBack) || r.bytes.includes(short) || r.gotEnd, 'the rest').catch(() => {});
    await Promise.race([rest, c.sleep(c.scaled(300))]);
    const all = firstRx.bytes;
    const echoAt = Math.max(all.indexOf(shortBack), all.indexOf(short));
    if (echoAt > 0) {
      fail(
        `extra bytes before the echo: your server sent ${show(all.subarray(0, echoAt))} before it sent back what the client sent` +
          `${all.indexOf(shortBack) < 0 ? ', and the echo itself is not shouted' : ''}. Send nothing but the client's own bytes, shouted: ` +
          'a greeting or a prompt makes the echo no longer byte-exact, and a copy of a file would no longer match it (lesson 04)',
        { expected: show(shortBack), actual: show(all) },
      );
    }
    if (got.length < shortBack.length) fail('your server ended the connection before it had sent the whole message back', { expected: show(shortBack), actual: firstRx.describe() });
    if (got.equals(short)) fail('the message came back, but not shouted: turn a–z into A–Z', { expected: show(shortBack), actual: show(got) });
    explainDifference(short, shortBack, got); // the first byte that came back wrong, and why
  });

  await c.step("waiting for your server to end after the client's FIN", async (s) => {
    s.timeoutMessage =
      "the client ended its side (a FIN), but your server never ended its own: end() the socket once the client's 'end' has come and everything went back (pipe() and pipeline() do it for you)";
    s.expected = `${show(shortBack)}, then a FIN`;
    s.actual = () => `the first client: ${firstRx.describe()}`;
    first.end();
    await firstRx.untilEnd();
    c.expectEqual(firstRx.bytes, shortBack, 'your server sent something more than the shouted message before its FIN');
    // How did your side close: ended (its FIN after every queued byte), or destroyed?
    s.timeoutMessage = "the client got your server's FIN, but your server's socket did not close";
    await changed.until(() => firstSide.closed);
    if (!firstSide.endedBeforeClose) {
      fail(
        "your server closed the connection with destroy() instead of ending it (a `for await (… of socket)` loop also destroys the socket when it ends, unless you read from socket.iterator({ destroyOnReturn: false })). " +
          'destroy() drops whatever Node still holds for the client: here nothing was left, ' +
          'but with a client that reads slowly the end of the echo would be lost, and the client could not tell (it gets a FIN either way). ' +
          "End your side with end() once everything went back (pipe() and pipeline() do it for you)",
        { expected: "end(), then 'close'", actual: "'close' without end()" },
      );
    }
  });

  // ── a few MiB of random bytes, read while they are written ──────────────

  await c.step(
    `shouting ${formatBytes(PAYLOAD_SIZE).replace(/ \(.*\)$/, '')} of random bytes back, byte for byte`,
    async (s) => {
      const payload = randomPayload(PAYLOAD_SIZE);
      const want = shouted(payload);
      const client = await c.connect(port, { name: 'the client sending random bytes' });
      const rx = c.record(client, { maxBytes: PAYLOAD_SIZE, from: 'your server' }); // reads while it writes
      // Compare as the bytes arrive, so a wrong byte fails the step at once.
      let compared = 0;
      let differs = false;
      client.on('data', (chunk: Buffer) => {
        const expected = want.subarray(compared, compared + chunk.length);
        if (!differs && !chunk.equals(expected)) differs = true;
        compared += chunk.length;
      });
      s.timeoutMessage = `the client sent ${formatBytes(PAYLOAD_SIZE)} and ended, reading all the while, but did not get every byte back, then a FIN`;
      s.expected = `${formatBytes(want.length)} back, then a FIN`;
      s.actual = () => `the client ${rx.describe()}`;
      void writeWithBackPressure(client, payload, PAYLOAD_PIECE).then(() => client.end());
      await rx.wait((r) => differs || r.gotEnd, `all ${formatBytes(want.length)} and a FIN`);
      if (differs) explainDifference(payload, want, rx.bytes);
      if (rx.received < want.length) {
        fail(
          `your server ended this second connection after sending back ${formatBytes(rx.received)}. Two usual causes: a stream shared by all connections ` +
            `(made once, outside the connection listener, it ends with the first client: make one per connection); or this: ${LATE_TRANSFORM}`,
          { expected: s.expected, actual: `${formatBytes(rx.received)}, then a FIN` },
        );
      }
    },
    { timeout: 10_000 },
  );

  // ── back-pressure: a client that sends a lot and does not read ─────────

  const flooder = await c.step('connecting a client that will not read', async () => {
    const client = await c.connect(port, { name: 'the client that does not read' });
    client.pause(); // it reads nothing: the replies pile up in the kernel, then in your server
    return { client, w: await serverSide(client, 'your side of the connection with the client that does not read') };
  });
  const { client: greedy, w } = flooder;
  /**
   * The bound of lesson 04: writableHighWaterMark + one read to send. One read is at most 64 KiB;
   * a server that writes more at once than it read (it joins reads) gets its biggest write instead.
   */
  const oneRead = () => Math.max(w.biggestRead, w.biggestWrite);
  const bound = () => w.socket.writableHighWaterMark + oneRead();
  const boundText = () =>
    `at most writableHighWaterMark + one read to send: ${formatBytes(w.socket.writableHighWaterMark)} + ${formatBytes(oneRead())} = ${formatBytes(bound())} unsent (socket.writableLength)`;
  const held = () =>
    `your server read ${formatBytes(w.socket.bytesRead)} and held up to ${formatBytes(w.peak)} unsent (socket.writableLength)` +
    `${w.stopped ? ', then stopped reading' : ''}`;
  let sent = 0;

  await c.step(
    'a client that sends without reading: your server must stop reading',
    async (s) => {
      s.timeoutMessage = 'the client that does not read got stuck sending, and your server was not seen to stop reading';
      s.expected = 'your server stops reading once it cannot send (after a few MiB: what the kernel buffers hold)';
      s.actual = () => `the client sent ${formatBytes(sent)} and read nothing; ${held()}`;
      let drained = false;
      greedy.on('drain', () => {
        drained = true;
        changed.notify();
      });
      greedy.on('close', () => changed.notify());
      // Send while your server reads. Stop when it stops reading (the right answer), when it
      // holds far more than the bound (so the failure shows it growing), or at the cap.
      const piece = Buffer.alloc(FLOOD_PIECE, 'a');
      const overLimit = () => w.peak > Math.max(1 * MiB, 4 * bound());
      const mustStop = () => w.stopped || overLimit() || w.closed || greedy.destroyed;
      while (!mustStop() && sent < FLOOD_CAP) {
        sent += piece.length;
        if (greedy.write(piece)) continue;
        drained = false;
        await changed.until(() => drained || mustStop());
      }
      if (w.peak > bound()) {
        fail(
          'while the client read nothing, your server kept reading and kept writing: the bytes it could not send piled up in its memory. ' +
            "When write() returns false, stop reading until 'drain' (pipe() and pipeline() do this for you)",
          {
            expected: boundText(),
            actual: `${formatBytes(w.peak)} unsent after the client sent ${formatBytes(sent)}; your server had read ${formatBytes(w.socket.bytesRead)} and was still reading`,
          },
        );
      }
      if (w.closed) fail('your server closed the connection while the client was still sending', { actual: held() });
      if (!w.stopped) {
        fail(
          `the client sent ${formatBytes(sent)} and read nothing, yet your server read it all without sending it back: it keeps the bytes somewhere. ` +
            'Send each chunk back as it comes, and stop reading while write() says the socket is full',
          { expected: s.expected, actual: held() },
        );
      }
      // What it read, minus what it wrote and what still waits in the socket's read buffer, is in
      // the server's own hands: a Transform's two buffers and a chunk in work, at most.
      const kept = w.socket.bytesRead - w.written - w.socket.readableLength;
      const allowed = bound() + 2 * Math.max(oneRead(), 64 * 1024);
      if (kept > allowed) {
        fail(
          `your server stopped reading, but only after it had taken ${formatBytes(kept)} that it had neither written nor left in the socket: ` +
            'a queue of your own, or a stream with a large highWaterMark, is memory a client that never reads can fill. ' +
            "Stop reading as soon as write() returns false, and read again on 'drain' (pipe() and pipeline() with default buffers do this)",
          { expected: `at most ${formatBytes(allowed)} held by your code`, actual: `${formatBytes(kept)} held: read ${formatBytes(w.socket.bytesRead)}, wrote ${formatBytes(w.written)}` },
        );
      }
    },
    { timeout: 10_000 },
  );

  await c.step(
    'the client reads at last: every byte back, then a FIN',
    async (s) => {
      // Your server has stopped reading. Now the client reads: your buffer drains, you read again, both sides end.
      const rx = c.record(greedy, { keepBytes: false, maxBytes: sent, from: 'your server' });
      let wrongByte = -1;
      const shoutedPiece = Buffer.alloc(FLOOD_PIECE, 'A');
      greedy.on('data', (chunk: Buffer) => {
        // One comparison per chunk; byte by byte only to find the first wrong one.
        if (wrongByte >= 0 || (chunk.length <= shoutedPiece.length && chunk.equals(shoutedPiece.subarray(0, chunk.length)))) return;
        const at = chunk.findIndex((b) => b !== 0x41); // 'A'
        if (at >= 0) wrongByte = rx.received - chunk.length + at;
      });
      s.timeoutMessage = 'the client read everything that came, but not every byte came back, then a FIN';
      s.expected = `${formatBytes(sent)} back, then a FIN`;
      s.actual = () => {
        const stuck = w.socket.bytesRead < sent && w.socket.writableLength === 0 && !w.socket.readableFlowing;
        return `the client ${rx.describe()}; ${held()}` + (stuck ? ". Your server holds nothing unsent now, yet it does not read: it stopped reading and never started again (resume on 'drain')" : '');
      };
      greedy.end();
      greedy.resume();
      await rx.untilEnd();
      if (w.peak > bound()) {
        fail("once the client read, your server held more than back-pressure allows: write no more while write() says the socket is full", {
          expected: boundText(),
          actual: `${formatBytes(w.peak)} unsent`,
        });
      }
      if (rx.received !== sent) fail(`not every byte came back before your FIN. ${LATE_TRANSFORM}`, { expected: s.expected, actual: rx.describe() });
      if (wrongByte >= 0) fail(`byte ${wrongByte} of what came back is not 'A': the client sent only 'a' (0x61)`);
    },
    { timeout: 5000 },
  );

  // ── a client that resets ─────────────────────────────────────────────────

  await c.step('a client resets its connection: your server must not crash', async (s) => {
    const rude = await c.connect(port, { name: 'the client that resets' });
    const rx = c.record(rude, { maxBytes: 4, from: 'your server' });
    const w = await serverSide(rude, 'your side of the connection that was reset');
    s.timeoutMessage = "the client reset its connection (an RST), but your server's socket did not close";
    s.actual = () => `the client that resets: ${rx.describe()}`;
    rude.write('bye!');
    await rx.wait((r) => r.received >= 4, 'the shouted "BYE!"');
    // Reset only once nothing is left to write, so it really is an RST (not a FIN).
    rude.resetAndDestroy();
    await changed.until(() => w.closed);
  });

  await c.step('shouting to a new client after the reset', async (s) => {
    const client = await c.connect(port, { name: 'the client after the reset' });
    const want = shouted(Buffer.from(AFTER_RESET));
    const rx = c.record(client, { maxBytes: want.length, from: 'your server' });
    s.timeoutMessage = 'a new client, after the reset, did not get its message back, then a FIN';
    s.expected = `${show(want)}, then a FIN`;
    s.actual = () => rx.describe();
    client.end(AFTER_RESET);
    await rx.untilEnd();
    c.expectEqual(rx.bytes, want, 'the new client got something else back');
  });
}

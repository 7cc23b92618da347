// The check for exercise 00: run it with `npm run check 00`.
//
// The check plays three servers: one that answers in two pieces (cut in the
// middle of a character) and then sends its FIN, one that resets the connection in the middle of its answer, and one
// that sends its FIN without a word. Each waits for the learner's request and
// FIN first. Every target is the name 'localhost' with a `lookup` that gives
// two addresses, 127.0.0.1 and ::1, as most machines do: so a refused connect
// comes as an AggregateError with an empty message, deterministically. Then a
// name that does not resolve, and two probes at once.
import type dns from 'node:dns';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { inspect } from 'node:util';
import { Follow, HOST, LearnerTimers, Signal, defineCheck, describeReason, fail, handedOver, isThenable, readBy, refusedPort, show, type LearnerTimer, type Outcome, type Recorder } from '../shared/check/index.ts';
import type * as Exercise from './exercise.ts';

// The check's own copies: changing exercise.ts does not change what is expected.
const REQUEST = 'status?\n';
const REPLY = 'all good ✓ bye\n';
/** The reply in two pieces, cut in the middle of the 3 bytes of '✓'. */
const PIECES = ((bytes: Buffer, cut: number) => [bytes.subarray(0, cut), bytes.subarray(cut)])(Buffer.from(REPLY), Buffer.from('all good ').length + 2);
const BEFORE_RESET = 'partial answ';
/** A value as the learner wrote it: `{ how: 'ended', received: 'all good, ' }`. */
function showValue(value: unknown): string {
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value) || value instanceof Error) return show(value);
  return inspect(value, { breakLength: Infinity, depth: 2, maxStringLength: 120, maxArrayLength: 10 });
}

/** The check's server side of one connection. */
interface Accepted {
  socket: net.Socket;
  rx: Recorder;
  /** the client's port, noted on 'connection' (remotePort is gone once the connection has shut down) */
  clientPort: number | undefined;
  /** the learner's socket at the other end, once found */
  learner?: net.Socket;
}

/** A server of the check: it accepts, records the request, and waits for the check to answer. */
interface Played {
  server: net.Server;
  port: number;
  accepted: Accepted[];
}

/** The value of a settled promise, checked to be an Ending of the expected kind. */
function expectEnding(o: Outcome, expected: { how: string; received?: string }, what: string): void {
  const wanted = expected.received === undefined ? `{ how: '${expected.how}' }` : `{ how: '${expected.how}', received: ${show(expected.received)} }`;
  if (o.state === 'rejected') {
    const why =
      expected.how === 'refused'
        ? "a refused connection is an answer, not a failure of the probe: resolve { how: 'refused' } when err.code is 'ECONNREFUSED' — read err.code, not err.message: here the error is an AggregateError (one failure per address tried) and its message is empty"
        : expected.how === 'reset'
          ? "a reset is one of the three answers: resolve { how: 'reset', received } when err.code is 'ECONNRESET'"
          : "a FIN is a clean end, even with nothing before it: resolve { how: 'ended', received } when 'close' says hadError false";
    fail(`${what}, your promise rejected with ${describeReason(o.reason)}: ${why}`, { expected: wanted, actual: `rejected with ${describeReason(o.reason)}` });
  }
  if (o.state !== 'resolved') return;
  const value = o.value as { how?: unknown; received?: unknown } | null;
  if (value === null || typeof value !== 'object') {
    fail(`${what}, your promise resolved with ${showValue(value)}; expected an object such as ${wanted}`, { expected: wanted, actual: showValue(value) });
  }
  if (value.how !== expected.how) {
    const hint =
      expected.how === 'refused'
        ? "nothing listens there: the socket emits 'error' with err.code 'ECONNREFUSED' (here inside an AggregateError whose message is empty: read err.code), then 'close' with hadError true"
        : expected.how === 'reset'
          ? "the server sent an RST: the socket emits 'error' with err.code 'ECONNRESET', then 'close' with hadError true, and never 'end'"
          : "the server sent its FIN: the socket emits 'end', then 'close' with hadError false — no error at all";
    fail(`${what}, your promise said how: ${show(value.how)}; expected '${expected.how}': ${hint}`, { expected: wanted, actual: showValue(value) });
  }
  if (expected.received === undefined) return;
  if (Buffer.isBuffer(value.received)) {
    fail(`${what}, received is a Buffer; expected the text as a string (call socket.setEncoding('utf8'), or decode the Buffers)`, { expected: wanted, actual: `received: ${show(value.received)}` });
  }
  if (typeof value.received === 'string' && value.received.includes('\ufffd')) {
    fail(
      `${what}, received has � where the server cut a character in two: turning each chunk into a string on its own (\`received += chunk\` does that) breaks such a character — call socket.setEncoding('utf8') before the first 'data', or join the Buffers and decode once`,
      { expected: show(expected.received), actual: show(value.received) },
    );
  }
  if (value.received !== expected.received) {
    const hint =
      typeof value.received === 'string' && value.received.length < expected.received.length
        ? ' — keep every chunk that arrives, in every outcome (a reset does not take back what already arrived)'
        : typeof value.received === 'string' && value.received.length > expected.received.length
          ? ' — it holds more than this connection received: is that state shared with another call?'
          : '';
    fail(`${what}, received is not what the server sent${hint}`, { expected: show(expected.received), actual: show(value.received) });
  }
}

export default defineCheck<typeof Exercise>(async (c) => {
  const probe = await c.exported('probe');

  // Which of the learner's timers, if any, is running when its promise settles.
  const timers = new LearnerTimers(c.file);
  const settledIn = new WeakMap<Follow, LearnerTimer | undefined>();
  let over = false;
  try {
    const changed = new Signal();
    let lookups = 0;
    /** 'localhost' → 127.0.0.1 and ::1, as on most machines (the check's servers listen on 127.0.0.1). */
    const twoAddresses = (hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
      lookups += 1;
      setImmediate(() => {
        if (options.all) callback(null, [{ address: HOST, family: 4 }, { address: '::1', family: 6 }]);
        else callback(null, HOST, 4);
      });
    };
    const target = (port: number) => ({ host: 'localhost', port, lookup: twoAddresses as net.LookupFunction });

    const play = async (name: string): Promise<Played> => {
      // allowHalfOpen: after the client's FIN the server can still answer.
      const server = c.name(net.createServer({ allowHalfOpen: true }), name);
      const accepted: Accepted[] = [];
      server.on('connection', (socket) => {
        socket.on('error', () => {});
        socket.setNoDelay(true); // each piece goes out at once, not held back by Nagle
        c.name(socket, `${name}: its side of your connection`);
        const rx = c.record(socket, { maxBytes: Buffer.byteLength(REQUEST), from: 'your client' });
        for (const event of ['data', 'end', 'close']) socket.on(event, () => changed.notify());
        accepted.push({ socket, rx, clientPort: socket.remotePort });
        changed.notify();
      });
      server.listen(0, HOST);
      const { port } = await c.listening(server);
      return { server, port, accepted };
    };

    /** The learner's socket at the other end of `conn`. */
    const learnerOf = (conn: Accepted): net.Socket | undefined => {
      conn.learner ??= c.clientAt(conn.clientPort);
      if (conn.learner) c.name(conn.learner, "your client's socket");
      return conn.learner;
    };
    /** Wait until the learner's socket has read `bytes` bytes (its 'data' has been emitted). */
    const delivered = (conn: Accepted, bytes: number) => readBy(() => learnerOf(conn), conn.socket, bytes, () => over);

    /** The learner's call, watched. Fails unless it returns a promise. */
    const call = (t: net.TcpNetConnectOpts): Follow => {
      const result: unknown = probe(t, REQUEST);
      if (!isThenable(result)) {
        fail(`probe() returned ${show(result)}; expected a promise of how the connection ended (return new Promise(…), or make the function async)`);
      }
      return new Follow(result, changed, (follow) => settledIn.set(follow, timers.current));
    };

    /** Wait for the next connection to `played` and for the request and FIN on it. */
    const requestOn = async (played: Played, before: number, attempt: Follow): Promise<Accepted> => {
      await changed.until(() => {
        const conn = played.accepted[before];
        if (conn?.rx.gotEnd) return true;
        if (conn?.rx.overflow) throw conn.rx.overflow;
        if (attempt.settled) fail(`${attempt.describe(showValue)} before the server got your request and FIN (it answers only after them)`);
        return false;
      });
      const conn = played.accepted[before];
      c.expectEqual(conn.rx.text, REQUEST, 'the server got something other than the request before your FIN');
      return conn;
    };

    /** Fail if the learner's promise settled while the connection was still open. */
    const stillPending = (attempt: Follow, what: string) => {
      // Settled inside a timer of the learner's: a busy machine decides when that fires, so it is
      // reported once the FIN has been sent (its own step), whenever the timer went off.
      if (!attempt.settled || settledIn.get(attempt)) return;
      const o = attempt.outcome;
      const value = o.state === 'resolved' ? (o.value as { received?: unknown } | null) : null;
      const why =
        value?.received === ''
          ? "your client got nothing: did it destroy() its socket? destroy() closes both directions at once, so no reply can come in; end() closes only yours"
          : "one 'data' event is not the end of the connection, and neither is a quiet moment: only 'close' (after 'end' or 'error') says it is over";
      fail(`${attempt.describe(showValue)} ${what}: ${why}`, { expected: 'a pending promise, until the connection is over', actual: attempt.describe(showValue) });
    };

    const { ends, resets, silent, nobody } = await c.step("starting the check's servers", async () => {
      const ends = await play('the server that answers, then ends');
      const resets = await play('the server that resets');
      const silent = await play('the server that ends without a word');
      // Outside the ephemeral range: a port listen(0) gave back could be taken again meanwhile.
      const nobody = await refusedPort();
      return { ends, resets, silent, nobody };
    });

    // ── 1. an answer in two pieces, then the FIN ────────────────────────────

    const first = await c.step('calling probe(target, request)', () => call(target(ends.port)));

    await c.step('waiting for your client to connect with net.connect(target)', async (s) => {
      s.timeoutMessage = `no connection arrived: probe() must call net.connect(target) (the target says host 'localhost', port ${ends.port})`;
      s.actual = () => first.describe(showValue);
      await changed.until(() => {
        if (ends.accepted.length > 0) return true;
        if (first.settled) fail(`${first.describe(showValue)} before it even connected`);
        return false;
      });
      if (lookups === 0) {
        fail(
          "your client connected without the target's lookup function: pass the target to net.connect() as it is — net.connect(target) — since it carries more than host and port",
          { expected: 'net.connect(target)', actual: 'a connection made without target.lookup' },
        );
      }
    });

    const conn = await c.step('waiting for your client to send the request and end() its side', async (s) => {
      const conn = ends.accepted[0];
      s.expected = `${show(REQUEST)}, then your FIN`;
      s.actual = () => `the server got: ${conn.rx.describe()}; ${first.describe(showValue)}`;
      s.timeoutMessage =
        'the server did not get your request and then your FIN: write the request and call end() (or end(request)) — the server answers only after your FIN';
      await changed.until(() => {
        if (conn.rx.gotEnd) return true;
        if (conn.rx.overflow) throw conn.rx.overflow;
        if (conn.rx.gotClose) fail('your client closed the connection without sending its FIN', { expected: s.expected, actual: `the server got: ${conn.rx.describe()}` });
        return false;
      });
      c.expectEqual(conn.rx.text, REQUEST, 'the server got something other than the request before your FIN');
      return conn;
    });

    await c.step('sending the reply in two pieces: your promise must wait for the FIN', async (s) => {
      s.timeoutMessage = 'your client stopped reading: the server wrote a piece of its reply and your socket never read it';
      s.actual = () => first.describe(showValue);
      stillPending(first, 'before the server had answered');
      let sent = 0;
      for (const [i, piece] of PIECES.entries()) {
        if (conn.socket.destroyed) fail('your client closed the connection while the reply was still arriving', { actual: first.describe(showValue) });
        await handedOver(conn.socket, piece);
        sent += piece.length;
        await delivered(conn, sent);
        stillPending(first, `after ${i + 1} of ${PIECES.length} pieces of the reply, with no FIN yet`);
      }
    });

    await c.step("waiting for your promise to settle once the server's FIN has arrived", async (s) => {
      const finAt = performance.now();
      conn.socket.end();
      s.timeoutMessage = "the server sent its whole reply and then its FIN, but your promise did not settle: settle when the socket emits 'close' (it comes after 'end')";
      s.expected = `{ how: 'ended', received: ${show(REPLY)} }, right after the FIN`;
      s.actual = () => first.describe(showValue);
      await changed.until(() => first.settled);
      const timer = settledIn.get(first);
      if (timer) {
        fail(
          `your promise settled ${(first.settledAt - finAt).toFixed(0)} ms after the server's FIN, inside a timer of ${Number.isFinite(timer.ms) ? `${timer.ms} ms` : 'yours'} that your code set: settle in the 'close' listener, not after a timer — a timer only makes every caller wait, and guesses`,
          { expected: "settled in the 'close' listener, right after the FIN", actual: `${first.describe(showValue)}, from a timer of yours` },
        );
      }
      expectEnding(first.outcome, { how: 'ended', received: REPLY }, 'after an answer and a FIN');
    });

    // ── 2. nothing listens: the kernel answers the SYN with RST ─────────────

    await c.step('probing a port where nothing listens', async (s) => {
      const attempt = call(target(nobody));
      s.timeoutMessage = `nothing listens on port ${nobody}, and your promise never settled: the socket emits 'error' (code 'ECONNREFUSED'), then 'close' — never 'connect' or 'end'`;
      s.actual = () => attempt.describe(showValue);
      await changed.until(() => attempt.settled);
      expectEnding(attempt.outcome, { how: 'refused' }, `with nothing listening on port ${nobody}`);
    });

    // ── 3. a reset in the middle of the answer ──────────────────────────────

    await c.step('probing a server that resets the connection mid-reply', async (s) => {
      const attempt = call(target(resets.port));
      s.timeoutMessage = 'your client did not connect and send the request and its FIN';
      s.actual = () => attempt.describe(showValue);
      const side = await requestOn(resets, 0, attempt);
      await handedOver(side.socket, BEFORE_RESET);
      await delivered(side, Buffer.byteLength(BEFORE_RESET));
      stillPending(attempt, 'with part of the reply sent and the connection still open');
      s.timeoutMessage = "the server reset the connection (your socket emits 'error' with code 'ECONNRESET', then 'close'), but your promise never settled";
      side.socket.resetAndDestroy();
      await changed.until(() => attempt.settled);
      expectEnding(attempt.outcome, { how: 'reset', received: BEFORE_RESET }, 'after part of a reply and a reset');
    });

    // ── 4. a FIN without a word ─────────────────────────────────────────────

    await c.step('probing a server that ends without a word', async (s) => {
      const attempt = call(target(silent.port));
      s.timeoutMessage = "the server sent its FIN without a word, and your promise never settled: no 'data' comes, only 'end', then 'close' (hadError false)";
      s.actual = () => attempt.describe(showValue);
      const side = await requestOn(silent, 0, attempt);
      side.socket.end();
      await changed.until(() => attempt.settled);
      expectEnding(attempt.outcome, { how: 'ended', received: '' }, 'after a FIN without a word');
    });

    // ── 5. a name that does not resolve: no connection at all ───────────────

    await c.step('probing a host name that does not resolve', async (s) => {
      const notFound = (hostname: string, _options: dns.LookupOptions, callback: (err: Error) => void) =>
        setImmediate(() => callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname })));
      const attempt = call({ host: 'nowhere.invalid', port: ends.port, lookup: notFound as unknown as net.LookupFunction });
      s.timeoutMessage = "the name does not resolve: the socket emits 'error' (code 'ENOTFOUND'), then 'close' — and your promise never settled";
      s.actual = () => attempt.describe(showValue);
      await changed.until(() => attempt.settled);
      const o = attempt.outcome;
      if (o.state === 'resolved') {
        fail(
          `your promise resolved with ${showValue(o.value)}, but no connection was even tried: the name did not resolve (err.code 'ENOTFOUND'). That is neither refused nor reset nor ended — reject with the error itself`,
          { expected: "a rejection with the error, code 'ENOTFOUND'", actual: attempt.describe(showValue) },
        );
      }
      const code = (o as { reason: NodeJS.ErrnoException }).reason?.code;
      if (code !== 'ENOTFOUND') {
        fail("your promise rejected, but without the error's code: reject with the error the socket emitted, so that a caller can read err.code", {
          expected: "a rejection with code 'ENOTFOUND'",
          actual: attempt.describe(showValue),
        });
      }
    });

    // ── 6. two probes at once ───────────────────────────────────────────────

    await c.step('two probes at once: each keeps its own bytes', async (s) => {
      const x = call(target(ends.port));
      const y = call(target(resets.port));
      s.timeoutMessage = 'two probes ran at once, and they did not both settle';
      s.actual = () => `the one answered and ended: ${x.describe(showValue)}; the one reset: ${y.describe(showValue)}`;
      const [xSide, ySide] = await Promise.all([requestOn(ends, 1, x), requestOn(resets, 1, y)]);
      // Interleaved: X's first piece, Y's piece, X's second piece, then X's FIN and Y's reset.
      await handedOver(xSide.socket, PIECES[0]);
      await delivered(xSide, PIECES[0].length);
      await handedOver(ySide.socket, BEFORE_RESET);
      await delivered(ySide, Buffer.byteLength(BEFORE_RESET));
      await handedOver(xSide.socket, PIECES[1]);
      await delivered(xSide, Buffer.byteLength(REPLY));
      stillPending(x, 'while its connection was still open');
      stillPending(y, 'while its connection was still open');
      xSide.socket.end();
      ySide.socket.resetAndDestroy();
      await changed.until(() => x.settled && y.settled);
      expectEnding(x.outcome, { how: 'ended', received: REPLY }, 'with two probes at once, for the one that got an answer and a FIN');
      expectEnding(y.outcome, { how: 'reset', received: BEFORE_RESET }, 'with two probes at once, for the one that was reset');
    });
  } finally {
    timers.stop();
    over = true;
  }
});

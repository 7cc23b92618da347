// The check for exercise 03: run it with `npm run check 03`.
//
// The check plays lesson 03's server: it reads the request until the client's
// FIN, then answers in capitals. It sends the reply in pieces, each one only
// once the learner's socket has read the one before, so every piece is its own
// 'data' event and some pieces end halfway through a character; then its FIN.
// The learner's promise must settle because of that FIN ('end'): not before it,
// and not later from a timer that was already running (a fixed wait). Then it
// tries a port where nothing listens, and a server that resets mid-reply.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { Follow, HOST, LearnerTimers, STEP_TIMEOUT, Signal, defineCheck, describeReason, fail, handedOver, isThenable, readBy, refusedPort, show, turn, type Check, type LearnerTimer, type Recorder } from '../shared/check/index.ts';
import type * as Exercise from './exercise.ts';

// The check's own copies: changing exercise.ts does not change what is expected.
const REQUEST = 'what time is it? ça va, café ☕ 👋\n';
/** Lesson 03's server answers with the request in capitals. */
const REPLY = REQUEST.toUpperCase();
/** The reply cut in the middle of each of these characters: 5 pieces. */
const PIECES = cutInside(REPLY, ['Ç', 'É', '☕', '👋']);
/** The replies to two calls at once, each in two pieces: a call must resolve with its own. */
const BOTH = ['FIRST REPLY: ÇA VA\n', 'SECOND REPLY: CAFÉ ☕\n'];

/** `text`'s bytes, cut halfway through the first occurrence of each character in `chars`. */
function cutInside(text: string, chars: string[]): Buffer[] {
  const bytes = Buffer.from(text);
  const cuts = chars.map((ch) => {
    const at = bytes.indexOf(ch);
    if (at < 0) throw new Error(`${ch} is not in ${text}`);
    return at + Math.ceil(Buffer.byteLength(ch) / 2);
  });
  const pieces: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts.sort((a, b) => a - b), bytes.length]) {
    pieces.push(bytes.subarray(from, cut));
    from = cut;
  }
  return pieces;
}

/** The learner's promise, and the timer of the learner's it settled in, if any. */
class TimedFollow extends Follow {
  /** set when it settled inside a timer the learner's code armed */
  settledInTimer?: LearnerTimer;
}

function timerText(timer: LearnerTimer): string {
  return Number.isFinite(timer.ms) ? `a timer of ${timer.ms} ms` : 'a timer';
}

// ── the check's server ────────────────────────────────────────────────────

/** The check's server side of one connection. */
interface Accepted {
  socket: net.Socket;
  rx: Recorder;
  /** the client's port, noted on 'connection' (remotePort is gone once the connection has shut down) */
  clientPort: number | undefined;
  /** the learner's socket at the other end, once found */
  learner?: net.Socket;
}

/** The learner's call: what it returned, watched. Fails unless it is a promise. */
function call(c: Check<typeof Exercise>, fetchReply: typeof Exercise.fetchReply, port: number, changed: Signal, callbacks: LearnerTimers): TimedFollow {
  const result: unknown = fetchReply(port, REQUEST);
  if (!isThenable(result)) {
    c.fail(`fetchReply() returned ${show(result)}; expected a promise of the reply (return new Promise(…), or make the function async)`);
  }
  return new TimedFollow(result, changed, (follow) => ((follow as TimedFollow).settledInTimer = callbacks.current));
}

export default defineCheck<typeof Exercise>(async (c) => {
  const fetchReply = await c.exported('fetchReply');

  const callbacks = new LearnerTimers(c.file);
  // When each client socket of the learner's emitted 'end', from the moment it connects
  // (net.connect, net.createConnection and new net.Socket().connect() all call this method).
  const endedAt = new WeakMap<net.Socket, number>();
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    c.name(this, "your client's socket");
    this.once('end', () => endedAt.set(this, performance.now()));
    return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof connect;
  let over = false;
  try {
    const changed = new Signal();
    const accepted: Accepted[] = [];
    // allowHalfOpen: after the client's FIN the server can still answer, as lesson 03's server does.
    const server = c.name(net.createServer({ allowHalfOpen: true }), "the check's server");
    server.on('connection', (socket) => {
      socket.on('error', () => {});
      socket.setNoDelay(true); // each piece goes out at once, not held back by Nagle
      c.name(socket, "the check's server side of your connection");
      const rx = c.record(socket, { maxBytes: Buffer.byteLength(REQUEST), from: 'your client' });
      for (const event of ['data', 'end', 'close']) socket.on(event, () => changed.notify());
      accepted.push({ socket, rx, clientPort: socket.remotePort });
      changed.notify();
    });

    /** The learner's socket at the other end of `conn`. */
    const learnerOf = (conn: Accepted): net.Socket | undefined => (conn.learner ??= c.clientAt(conn.clientPort));
    /** Wait until the learner's socket has read `bytes` bytes (its 'data' has been emitted). */
    const delivered = (conn: Accepted, bytes: number) => readBy(() => learnerOf(conn), conn.socket, bytes, () => over);

    /** Fail if the learner's promise settled while the reply was still coming (`sent`: pieces sent so far). */
    const stillPending = (call: TimedFollow, what: string, sent: number) => {
      const o = call.outcome;
      if (o.state === 'resolved') {
        const why = call.settledInTimer
          ? `${timerText(call.settledInTimer)} you set decided that the reply was complete. A pause says nothing: only 'end' (the FIN) says that nothing more will come — resolve on 'end', not after a fixed wait`
          : sent === 0
            ? "the server had not sent anything yet: your own end() and its 'finish' only say that your request went out; the reply ends with the server's FIN — resolve on 'end'"
            : o.value === REPLY
              ? "only 'end' says that nothing more will come (the text itself cannot tell you) — resolve on 'end'"
              : "one 'data' event is not the whole reply — keep every chunk and resolve on 'end'";
        fail(`your promise resolved before the server's FIN, ${what}: ${why}`, {
          expected: `${show(REPLY)}, once the server's FIN has arrived`,
          actual: `resolved with ${show(o.value)} before the FIN`,
        });
      }
      if (o.state === 'rejected') {
        const from = call.settledInTimer ? `, from ${timerText(call.settledInTimer)} you set (a slow reply is not a failure: settle on 'end' or 'error')` : '';
        fail(`your promise rejected while the reply was still arriving, ${what}${from}: ${describeReason(o.reason)}`);
      }
    };

    const { port } = await c.step("starting the check's server", () => {
      server.listen(0, HOST);
      return c.listening(server);
    });

    // ── 1. a whole reply, in pieces, then the FIN ───────────────────────────

    const first = await c.step('calling fetchReply(port, request)', () => call(c, fetchReply, port, changed, callbacks));

    const conn = await c.step("waiting for your client to connect to the check's server", async (s) => {
      s.timeoutMessage = `no connection arrived: fetchReply() must connect to ${HOST}:port with net.connect()`;
      s.actual = () => first.describe();
      await changed.until(() => accepted.length > 0);
      return accepted[0];
    });

    await c.step('waiting for your client to send the request and end() its side', async (s) => {
      s.expected = `${show(REQUEST)}, then your FIN`;
      s.actual = () => `the check's server: ${conn.rx.describe()}; ${first.describe()}`;
      await changed.until(() => {
        const { rx } = conn;
        s.timeoutMessage =
          rx.received === 0
            ? 'the server got nothing from your client: write the request, then end() your side'
            : rx.received < Buffer.byteLength(REQUEST)
              ? 'the server got only part of the request'
              : 'the server got the request but no FIN, so it is still waiting for the rest of it: call end() after writing (or end(request)) — the server answers only after your FIN';
        if (rx.overflow) throw rx.overflow;
        if (rx.gotEnd) return true;
        if (rx.gotClose) fail('your client closed the connection before sending its FIN', { expected: s.expected, actual: s.actual!() });
        return false;
      });
      c.expectEqual(conn.rx.text, REQUEST, 'the server got something other than the request before your FIN');
    });

    await c.step("sending the reply in pieces, then the FIN: your promise must settle on 'end'", async (s) => {
      let written = 0;
      let sent = 0;
      s.timeoutMessage = 'your client stopped reading: the server wrote a piece of its reply and your socket never read it';
      s.actual = () => `the server wrote ${written} of ${PIECES.length} pieces (${sent} B); your socket has read ${learnerOf(conn)?.bytesRead ?? '?'} B; ${first.describe()}`;
      for (const piece of PIECES) {
        stillPending(first, `with ${written} of the ${PIECES.length} pieces of the reply sent`, written);
        if (learnerOf(conn)?.destroyed || conn.socket.destroyed) {
          fail("your client's socket closed while the reply was still arriving: end() sends your FIN and keeps reading; destroy() closes the socket, and the reply is lost", {
            actual: `${first.describe()}; your socket had read ${learnerOf(conn)?.bytesRead ?? 0} B`,
          });
        }
        await handedOver(conn.socket, piece);
        written += 1;
        sent += piece.length;
        await delivered(conn, sent);
      }
      stillPending(first, 'although the whole reply had arrived', written);

      // The FIN. Now the promise must settle, and because of it.
      conn.socket.end();
      const learner = learnerOf(conn);
      s.timeoutMessage = "the server sent the whole reply and then its FIN, but your promise did not settle: resolve it when the socket emits 'end'";
      s.expected = `${show(REPLY)}, when your socket emits 'end'`;
      s.actual = () => {
        const read = learner ? `your socket got ${learner.bytesRead} B and ${learner.readableEnded ? "emitted 'end'" : "has not emitted 'end' (it comes only once the data before the FIN has been read)"}; ` : '';
        return `${read}${first.describe()}`;
      };
      // Once the learner's socket has closed and no timer of theirs is left, nothing can settle
      // the promise any more: say so at once instead of waiting for the step's timeout.
      let nothingLeft = false;
      const afterClose = async () => {
        for (let i = 0; i < 20 && !first.settled; i += 1) await turn();
        nothingLeft = !first.settled && !callbacks.timersPending;
        changed.notify();
      };
      if (learner?.destroyed) void afterClose();
      else learner?.once('close', () => void afterClose());
      await changed.until(() => first.settled || nothingLeft);
      if (!first.settled) {
        const how = learner && endedAt.has(learner) ? "emitted 'end' and then 'close'" : 'closed';
        fail(`your socket ${how}, and your promise is still pending: nothing is left that could settle it. Resolve it in the 'end' listener`, {
          expected: s.expected,
          actual: s.actual(),
        });
      }
      const ended = learner ? endedAt.get(learner) : undefined;
      if (learner && ended === undefined) stillPending(first, "just as it arrived, before your socket's 'end'", written);
      const timer = first.settledInTimer;
      if (ended !== undefined && timer && timer.armedAt < ended && (timer.firedAt ?? 0) >= ended) {
        const after = (first.settledAt - ended).toFixed(0);
        fail(
          `your promise settled ${after} ms after your socket's 'end', when a timer you had set earlier (${Number.isFinite(timer.ms) ? `${timer.ms} ms` : 'setTimeout, setInterval or socket.setTimeout'}) went off: it waited a fixed time instead of for the event. ` +
            "A pause in the data does not mean the reply is complete, and a slow server would be cut off — settle in the 'end' listener",
          { expected: s.expected, actual: `${first.describe()}, from ${timerText(timer)}` },
        );
      }
      const o = first.outcome;
      if (o.state === 'rejected') fail(`your promise rejected after a clean reply and FIN: ${describeReason(o.reason)}`, { expected: s.expected });
    }, { timeout: 2 * STEP_TIMEOUT });

    await c.step('checking the reply your promise resolved with', () => {
      const o = first.outcome;
      if (o.state !== 'resolved') return;
      const expected = show(REPLY);
      if (Buffer.isBuffer(o.value)) {
        fail(`your promise resolved with a Buffer of ${o.value.length} B; expected the reply as a string: decode the whole reply with toString('utf8')`, {
          expected,
          actual: `a Buffer: ${show(o.value)}`,
        });
      }
      if (typeof o.value !== 'string') {
        fail(`your promise resolved with ${show(o.value)}; expected the reply as a string (decode the bytes as UTF-8)`, { expected, actual: show(o.value) });
      }
      if (o.value.includes('\ufffd') && !REPLY.includes('\ufffd')) {
        fail(
          "the reply has � where the server cut a character in two: turning each chunk into a string on its own (also `text += chunk`) breaks such a character — join the Buffers and decode once, or call setEncoding('utf8')",
          { expected, actual: show(o.value) },
        );
      }
      c.expectEqual(o.value, REPLY, 'your promise resolved with something other than the whole reply');
    });

    // ── 2. nothing listening ────────────────────────────────────────────────

    const refused = await c.step('waiting for your promise to reject when nothing is listening', async (s) => {
      // A port that was just free: listen on port 0, note the port, close.
      // Outside the ephemeral range: a port listen(0) gave back could be taken again meanwhile.
      const closed = await refusedPort();

      s.timeoutMessage = `nothing is listening on ${HOST}:${closed}, and your promise never settled: the socket emits 'error' (code 'ECONNREFUSED') and then 'close', never 'connect' or 'end' — reject in an 'error' listener`;
      const attempt = call(c, fetchReply, closed, changed, callbacks);
      s.actual = () => attempt.describe();
      await changed.until(() => attempt.settled);
      const o = attempt.outcome;
      if (o.state === 'resolved') {
        fail(`your promise resolved with ${show(o.value)}, but nothing is listening on ${HOST}:${closed}: the socket emits 'error' (ECONNREFUSED), then 'close' (with hadError true), never 'end' — reject in an 'error' listener`);
      }
      return { port: closed, reason: o.state === 'rejected' ? o.reason : undefined };
    });

    await c.step('checking the error of the refused connection', () => {
      const { reason } = refused;
      const message = `nothing is listening on ${HOST}:${refused.port}`;
      if (!(reason instanceof Error)) {
        fail(`your promise rejected with ${show(reason)}; expected an Error`, { expected: `an Error: ${show(message)}, code 'ECONNREFUSED'`, actual: show(reason) });
      }
      const code = (reason as NodeJS.ErrnoException).code;
      if (code !== 'ECONNREFUSED') {
        fail(
          "your Error has lost its code: keep err.code === 'ECONNREFUSED' (copy it from Node's error onto yours), so a caller can tell a refused connection from other failures",
          { expected: `code ${show('ECONNREFUSED')}`, actual: code === undefined ? 'no code' : `code ${show(code)}` },
        );
      }
      if (!reason.message.includes(message)) {
        fail('the message of your Error should say, in plain words, where nothing is listening', {
          expected: `a message with ${show(message)}`,
          actual: show(reason.message),
        });
      }
    });

    // ── 3. a reset in the middle of the reply ───────────────────────────────

    await c.step('waiting for your promise to reject when the server resets the connection mid-reply', async (s) => {
      const before = accepted.length;
      const attempt = call(c, fetchReply, port, changed, callbacks);
      s.timeoutMessage = 'your client did not connect again and send the request and its FIN';
      s.actual = () => attempt.describe();
      await changed.until(() => accepted.length > before && accepted[before].rx.gotEnd);
      const side = accepted[before];
      // Part of the reply, then a reset once it has been read (nothing unread stands in front of the RST).
      const part = PIECES.slice(0, 2);
      let sent = 0;
      for (const piece of part) {
        await handedOver(side.socket, piece);
        sent += piece.length;
        await delivered(side, sent);
      }
      stillPending(attempt, 'with part of the reply sent', part.length);
      s.timeoutMessage = "the server reset the connection (your socket emits 'error' with code 'ECONNRESET', then 'close', and never 'end'), but your promise never settled: reject in an 'error' listener that stays for the whole life of the socket";
      side.socket.resetAndDestroy();
      await changed.until(() => attempt.settled);
      const o = attempt.outcome;
      if (o.state === 'resolved') {
        fail(`your promise resolved with ${show(o.value)} after the server reset the connection: a reset is an 'error' (ECONNRESET), then 'close' with hadError true, not an 'end', and the reply is incomplete — reject`, {
          expected: 'a rejection',
          actual: `resolved with ${show(o.value)}`,
        });
      }
    });

    // ── 4. two calls at once ────────────────────────────────────────────────

    await c.step('calling fetchReply() twice at once: each promise must get its own reply', async (s) => {
      const before = accepted.length;
      const calls = [call(c, fetchReply, port, changed, callbacks), call(c, fetchReply, port, changed, callbacks)];
      s.timeoutMessage = 'your two calls did not both connect, send the request and end() their side';
      s.actual = () => calls.map((one, i) => `call ${i + 1}: ${one.describe()}`).join('; ');
      await changed.until(() => accepted.length >= before + 2 && accepted[before].rx.gotEnd && accepted[before + 1].rx.gotEnd);
      const sides = [accepted[before], accepted[before + 1]];
      // Interleaved: half of each reply, then the other halves, then both FINs.
      const halves = BOTH.map((reply) => [reply.slice(0, reply.indexOf(':') + 1), reply.slice(reply.indexOf(':') + 1)]);
      for (const half of [0, 1]) {
        for (const i of [0, 1]) {
          await handedOver(sides[i].socket, halves[i][half]);
          await delivered(sides[i], Buffer.byteLength(halves[i].slice(0, half + 1).join('')));
        }
      }
      s.timeoutMessage = "both servers sent their whole reply and their FIN, but your promises did not both settle: resolve each on its own socket's 'end'";
      for (const side of sides) side.socket.end();
      await changed.until(() => calls.every((one) => one.settled));
      calls.forEach((one, i) => {
        const o = one.outcome;
        if (o.state === 'rejected') fail(`call ${i + 1} rejected after a clean reply and FIN: ${describeReason(o.reason)}`, { expected: 'both resolve' });
      });
      const got = calls.map((one) => (one.outcome.state === 'resolved' ? one.outcome.value : undefined));
      const expected = `${show(BOTH[0])} and ${show(BOTH[1])}, one each (in either order)`;
      const mixed = !(got.includes(BOTH[0]) && got.includes(BOTH[1]));
      if (mixed) {
        fail(
          "your two calls' replies got mixed up: each promise must resolve with the reply on its own connection. " +
            'Keep what a call collects in variables made inside fetchReply(): one at module level is shared by every call, also calls made earlier',
          { expected, actual: calls.map((one, i) => `call ${i + 1}: ${one.describe()}`).join('; ') },
        );
      }
    });
  } finally {
    over = true;
    net.Socket.prototype.connect = connect;
    callbacks.stop();
  }
});

// The check for exercise 03: run it with `npm run check 03`.
//
// The check plays lesson 03's server: it reads the request until the client's
// FIN, then answers in capitals. It sends the reply in pieces, each one only
// once the learner's socket has read the one before, so every piece is its own
// 'data' event and some pieces end halfway through a character. Then it tries
// a port where nothing listens, and a server that resets in the middle of its
// reply.
import dc from 'node:diagnostics_channel';
import net from 'node:net';
import { HOST, Signal, defineCheck, fail, isThenable, show, type Check, type Recorder } from '../shared/check/index.ts';
import type * as Exercise from './exercise.ts';

// The check's own copies: changing exercise.ts does not change what is expected.
const REQUEST = 'what time is it? ça va, café ☕ 👋\n';
/** Lesson 03's server answers with the request in capitals. */
const REPLY = REQUEST.toUpperCase();
/** The reply cut in the middle of each of these characters: 5 pieces. */
const PIECES = cutInside(REPLY, ['Ç', 'É', '☕', '👋']);

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

type Outcome = { state: 'pending' } | { state: 'resolved'; value: unknown } | { state: 'rejected'; reason: unknown };

/** Where the learner's promise stands; `changed` is notified when it settles. */
class Follow {
  outcome: Outcome = { state: 'pending' };
  constructor(promise: PromiseLike<unknown>, changed: Signal) {
    Promise.resolve(promise).then(
      (value) => {
        this.outcome = { state: 'resolved', value };
        changed.notify();
      },
      (reason: unknown) => {
        this.outcome = { state: 'rejected', reason };
        changed.notify();
      },
    );
  }

  get settled(): boolean {
    return this.outcome.state !== 'pending';
  }

  describe(): string {
    const o = this.outcome;
    if (o.state === 'pending') return 'your promise is still pending';
    if (o.state === 'resolved') return `your promise resolved with ${show(o.value)}`;
    return `your promise rejected with ${describeReason(o.reason)}`;
  }
}

function describeReason(reason: unknown): string {
  if (!(reason instanceof Error)) return show(reason);
  const code = (reason as NodeJS.ErrnoException).code;
  return `${reason.name}: ${show(reason.message)}${code === undefined ? ' (no code)' : ` (code ${show(code)})`}`;
}

/** One turn of the event loop: 'data' events and promise callbacks already due have run after it. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Write and wait until Node has handed the bytes to the kernel (or failed to). */
function write(socket: net.Socket, piece: Buffer): Promise<void> {
  return new Promise((resolve) => socket.write(piece, () => resolve()));
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

/** The learner's call: what it returned, watched. Fails unless it is a promise. */
function call(c: Check<typeof Exercise>, fetchReply: typeof Exercise.fetchReply, port: number, changed: Signal): Follow {
  const result: unknown = fetchReply(port, REQUEST);
  if (!isThenable(result)) {
    c.fail(`fetchReply() returned ${show(result)}; expected a promise of the reply (return new Promise(…), or make the function async)`);
  }
  return new Follow(result, changed);
}

export default defineCheck<typeof Exercise>(async (c) => {
  const fetchReply = await c.exported('fetchReply');

  // The learner's client sockets (net.connect publishes each one here), to see
  // how much of the reply each has read. Not published on Node 20 for
  // `new net.Socket().connect()`: then the pieces are only paced by event-loop turns.
  const clients: net.Socket[] = [];
  const onClient = (message: unknown) => {
    const { socket } = message as { socket: net.Socket };
    clients.push(socket);
    c.name(socket, "your client's socket");
  };
  dc.subscribe('net.client.socket', onClient);
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
      const rx = c.record(socket);
      for (const event of ['data', 'end', 'close']) socket.on(event, () => changed.notify());
      accepted.push({ socket, rx, clientPort: socket.remotePort });
      changed.notify();
    });

    /** The learner's socket at the other end of `conn`, if net.connect() made it. */
    const learnerOf = (conn: Accepted): net.Socket | undefined => {
      conn.learner ??= clients.findLast((s) => conn.clientPort !== undefined && s.localPort === conn.clientPort);
      return conn.learner;
    };

    /** Wait until the learner's socket has read `bytes` bytes (its 'data' has been emitted), then a few more turns. */
    const delivered = async (conn: Accepted, bytes: number) => {
      for (;;) {
        const learner = learnerOf(conn);
        if (!learner || learner.bytesRead >= bytes || learner.destroyed || conn.socket.destroyed || over) break;
        await turn();
      }
      for (let i = 0; i < 3; i += 1) await turn();
    };

    /** Fail if the learner's promise settled while the reply was still coming. */
    const stillPending = (call: Follow, what: string) => {
      const o = call.outcome;
      if (o.state === 'resolved') {
        const why =
          o.value === REPLY
            ? "only 'end' says that nothing more will come (the text itself cannot tell you) — resolve on 'end'"
            : "one 'data' event is not the whole reply — keep every chunk and resolve on 'end'";
        fail(`your promise resolved before the server's FIN, ${what}: ${why}`, {
          expected: `${show(REPLY)}, once the server's FIN has arrived`,
          actual: `resolved with ${show(o.value)} before the FIN`,
        });
      }
      if (o.state === 'rejected') fail(`your promise rejected while the reply was still arriving, ${what}: ${describeReason(o.reason)}`);
    };

    const { port } = await c.step("starting the check's server", () => {
      server.listen(0, HOST);
      return c.listening(server);
    });

    // ── 1. a whole reply, in pieces ─────────────────────────────────────────

    const first = await c.step('calling fetchReply(port, request)', () => call(c, fetchReply, port, changed));

    const conn = await c.step("waiting for your client to connect to the check's server", async (s) => {
      s.timeoutMessage = `no connection arrived: fetchReply() must connect to ${HOST}:port with net.connect()`;
      await changed.until(() => {
        if (accepted.length > 0) return true;
        if (first.settled) fail(`${first.describe()} before it even connected`);
        return false;
      });
      return accepted[0];
    });

    await c.step('waiting for your client to send the request and end() its side', async (s) => {
      s.expected = `${show(REQUEST)}, then your FIN`;
      s.actual = () => `the check's server: ${conn.rx.describe()}`;
      await changed.until(() => {
        const { rx } = conn;
        s.timeoutMessage =
          rx.received === 0
            ? 'the server got nothing from your client: write the request, then end() your side'
            : rx.received < Buffer.byteLength(REQUEST)
              ? 'the server got only part of the request'
              : 'the server got the request but no FIN, so it is still waiting for the rest of it: call end() after writing (or end(request)) — the server answers only after your FIN';
        if (rx.gotEnd) return true;
        if (first.settled) fail(`${first.describe()} before the server even got your FIN (it answers only after it)`, { actual: `the check's server: ${rx.describe()}` });
        if (rx.gotClose) fail('your client closed the connection before sending its FIN', { expected: s.expected, actual: `the check's server: ${rx.describe()}` });
        return false;
      });
      c.expectEqual(conn.rx.text, REQUEST, 'the server got something other than the request before your FIN');
    });

    await c.step('sending the reply in pieces: your promise must wait for the FIN', async (s) => {
      let written = 0;
      let sent = 0;
      s.timeoutMessage = "your client stopped reading: the server wrote a piece of its reply and your socket never read it";
      s.actual = () => `the server wrote ${written} of ${PIECES.length} pieces (${sent} B); your socket has read ${learnerOf(conn)?.bytesRead ?? '?'} B; ${first.describe()}`;
      for (const piece of PIECES) {
        stillPending(first, `with ${written} of the ${PIECES.length} pieces of the reply sent`);
        if (conn.socket.destroyed) fail('your client closed the connection while the reply was still arriving', { actual: first.describe() });
        await write(conn.socket, piece);
        written += 1;
        sent += piece.length;
        await delivered(conn, sent);
      }
      stillPending(first, 'although the whole reply had arrived');
    });

    await c.step('waiting for your promise to resolve with the whole reply', async (s) => {
      conn.socket.end();
      s.timeoutMessage = "the server sent the whole reply and then its FIN, but your promise did not settle: resolve it when the socket emits 'end'";
      s.expected = show(REPLY);
      s.actual = () => {
        const learner = learnerOf(conn);
        const read = learner ? `your socket got ${learner.bytesRead} B and ${learner.readableEnded ? "emitted 'end'" : "has not emitted 'end' (it comes only once the data before the FIN has been read)"}; ` : '';
        return `${read}${first.describe()}`;
      };
      await changed.until(() => first.settled);
      const o = first.outcome;
      if (o.state === 'rejected') fail(`your promise rejected after a clean reply and FIN: ${describeReason(o.reason)}`, { expected: s.expected });
      if (o.state !== 'resolved') return;
      if (Buffer.isBuffer(o.value)) {
        fail(`your promise resolved with a Buffer of ${o.value.length} B; expected the reply as a string: decode the whole reply with toString('utf8')`, {
          expected: s.expected,
          actual: `a Buffer: ${show(o.value)}`,
        });
      }
      if (typeof o.value !== 'string') {
        fail(`your promise resolved with ${show(o.value)}; expected the reply as a string (decode the bytes as UTF-8)`, { expected: s.expected, actual: show(o.value) });
      }
      if (o.value.includes('\ufffd') && !REPLY.includes('\ufffd')) {
        fail(
          "the reply has � where the server cut a character in two: turning each chunk into a string on its own (also `text += chunk`) breaks such a character — join the Buffers and decode once, or call setEncoding('utf8')",
          { expected: s.expected, actual: show(o.value) },
        );
      }
      c.expectEqual(o.value, REPLY, 'your promise resolved with something other than the whole reply');
    });

    // ── 2. nothing listening ────────────────────────────────────────────────

    const refused = await c.step('waiting for your promise to reject when nothing is listening', async (s) => {
      // A port that was just free: listen on port 0, note the port, close.
      const closing = c.name(net.createServer(), "the check's closed server");
      closing.listen(0, HOST);
      const { port: closed } = await c.listening(closing);
      await new Promise((resolve) => closing.close(resolve));

      s.timeoutMessage = `nothing is listening on ${HOST}:${closed}, and your promise never settled: the socket emits 'error' (code 'ECONNREFUSED') and then 'close', never 'connect' or 'end' — reject in an 'error' listener`;
      const attempt = call(c, fetchReply, closed, changed);
      s.actual = () => attempt.describe();
      await changed.until(() => attempt.settled);
      const o = attempt.outcome;
      if (o.state === 'resolved') {
        fail(`your promise resolved with ${show(o.value)}, but nothing is listening on ${HOST}:${closed}: the socket emits 'error' (ECONNREFUSED), not 'end' — reject in an 'error' listener`);
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
      const attempt = call(c, fetchReply, port, changed);
      s.timeoutMessage = "your client did not connect again and send the request and its FIN";
      s.actual = () => attempt.describe();
      await changed.until(() => {
        if (accepted.length > before && accepted[before].rx.gotEnd) return true;
        if (attempt.settled) fail(`${attempt.describe()} before the server got the request and your FIN`);
        return false;
      });
      const side = accepted[before];
      // Part of the reply, then a reset once it has been read (with no write pending, resetAndDestroy() sends a real RST).
      const part = PIECES.slice(0, 2);
      let sent = 0;
      for (const piece of part) {
        await write(side.socket, piece);
        sent += piece.length;
        await delivered(side, sent);
      }
      stillPending(attempt, 'with part of the reply sent');
      s.timeoutMessage = "the server reset the connection (your socket emits 'error' with code 'ECONNRESET', then 'close', and never 'end'), but your promise never settled: reject in an 'error' listener that stays for the whole life of the socket";
      side.socket.resetAndDestroy();
      await changed.until(() => attempt.settled);
      const o = attempt.outcome;
      if (o.state === 'resolved') {
        fail(`your promise resolved with ${show(o.value)} after the server reset the connection: a reset is an 'error' (ECONNRESET), not an 'end', and the reply is incomplete — reject`, {
          expected: 'a rejection',
          actual: `resolved with ${show(o.value)}`,
        });
      }
    });
  } finally {
    over = true;
    dc.unsubscribe('net.client.socket', onClient);
  }
});

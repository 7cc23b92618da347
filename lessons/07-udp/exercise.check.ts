// The check for exercise 07: run it with `npm run check 07`.
//
// The check plays UDP servers on 127.0.0.1 (sockets of its own, which it
// closes at the end) and calls the learner's ask() against each: one that
// answers at once, one that drops the first datagrams, one that answers a
// first datagram late, one that answers twice, one that never answers, others
// whose answer is preceded by an impostor's, and two calls at once. It sees
// every UDP socket the learner's code creates (Node publishes each one on the
// 'udp.socket' diagnostics channel), when it sends and when it is closed.
//
// Timeouts handed to ask() are small (10 ms) where the check waits them out,
// and large (1 s) where a correct answer must not wait at all: the verdict on a
// correct answer takes about a tenth of a second.
import dc from 'node:dgram';
import diagnostics from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { CheckFailure, HOST, Signal, defineCheck, describeReason, fail, isThenable, show, turn, unboundUdpPort, type Check } from '../shared/check/index.ts';
import type * as Exercise from './exercise.ts';

/** The check's answer to a question (its own copy: changing exercise.ts does not change it). */
const answerTo = (question: string) => `answer to ${question}`;
/** A short timeout, for the steps that wait it out. */
const SHORT = 10;
/** A long timeout, for the steps where a correct ask() never waits for it. */
const LONG = 1000;

// ── the learner's sockets ─────────────────────────────────────────────────────

interface Tracked {
  socket: dc.Socket;
  /** performance.now() of every datagram it handed to the kernel */
  sends: number[];
  closedAt?: number;
  /** true once a whole turn of the event loop has passed since 'close' */
  closedLongAgo?: boolean;
  /** sends made in the current synchronous run of code (reset on the next tick) */
  runSends: number;
  /** the most sends it made in one synchronous run: more than 1 means it did not wait between them */
  burst: number;
}

/** Every UDP socket created outside the check's own code, in order. */
const learnerSockets: Tracked[] = [];
/** Set while the check creates its own sockets, so that they are not taken for the learner's. */
let creatingOwn = false;
/** Notified whenever something the steps wait for happens. */
const changed = new Signal();
/** Set once the verdict is in: the learner's leftovers must not crash the check after it. */
let over = false;

diagnostics.subscribe('udp.socket', (message) => {
  if (creatingOwn) return;
  const socket = (message as { socket: dc.Socket }).socket;
  const tracked: Tracked = { socket, sends: [], runSends: 0, burst: 0 };
  learnerSockets.push(tracked);
  socket.once('close', () => {
    tracked.closedAt = performance.now();
    changed.notify();
    // Closing and then resolving in the same turn is fine; still pending a turn later is not.
    setImmediate(() => {
      tracked.closedLongAgo = true;
      changed.notify();
    });
  });
  const send = socket.send;
  socket.send = function (this: dc.Socket, ...args: unknown[]) {
    if (tracked.closedAt !== undefined) {
      if (over) return;
      // Node would throw "Not running": say what it means instead.
      throw new CheckFailure(
        `your code called send() on a socket it had already closed (${Math.round(performance.now() - tracked.closedAt)} ms after closing it): a retry timer was still running — clear it (clearTimeout) as soon as the promise settles`,
      );
    }
    // An unbound socket binds first and then calls send() again: count the second call only.
    if (isBound(this)) {
      if (tracked.sends.length < 1000) tracked.sends.push(performance.now());
      // Several sends in one synchronous run of code: a loop that did not wait for anything.
      if (tracked.runSends++ === 0) process.nextTick(() => (tracked.runSends = 0));
      tracked.burst = Math.max(tracked.burst, tracked.runSends);
    }
    // Looked at once the learner's code has given control back: it may be in the middle of a loop.
    process.nextTick(() => changed.notify());
    return (send as (...a: unknown[]) => void).apply(this, args);
  } as typeof socket.send;
});

function isBound(socket: dc.Socket): boolean {
  try {
    socket.address();
    return true;
  } catch {
    return false;
  }
}

/** The learner's sockets that sent anything after `since`. */
function socketsUsedSince(since: number): Tracked[] {
  return learnerSockets.filter((s) => s.sends.some((at) => at >= since));
}

// ── the check's servers ──────────────────────────────────────────────────────

interface Datagram {
  at: number;
  text: string;
  bytes: number;
  from: dc.RemoteInfo;
}

/** A UDP socket of the check's, bound to `address` (127.0.0.1 by default) on a free port or `port`. */
class Server {
  readonly received: Datagram[] = [];
  /** how many datagrams came, also past the ones kept */
  count = 0;
  port = 0;
  socket: dc.Socket;
  constructor(readonly name: string, onDatagram: (d: Datagram, server: Server) => void = () => {}) {
    creatingOwn = true;
    try {
      this.socket = dc.createSocket('udp4');
    } finally {
      creatingOwn = false;
    }
    this.socket.on('error', () => {});
    this.socket.on('message', (message: Buffer, from: dc.RemoteInfo) => {
      const d: Datagram = { at: performance.now(), text: message.toString('utf8'), bytes: message.length, from };
      this.count += 1;
      if (this.received.length < 100) this.received.push(d);
      onDatagram(d, this);
      changed.notify();
    });
  }

  async bind(address = HOST, port = 0): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(port, address, () => {
        this.socket.off('error', reject);
        resolve();
      });
    });
    this.port = this.socket.address().port;
    return this;
  }

  answer(to: dc.RemoteInfo, text: string): Promise<void> {
    return new Promise((resolve) => this.socket.send(text, to.port, to.address, () => resolve()));
  }

  /** Close the socket; resolves once the handle is gone (a turn after 'close'). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.socket.close(() => setImmediate(resolve));
      } catch {
        resolve(); // closed already
      }
    });
  }

  describe(): string {
    if (this.count === 0) return `${this.name} got nothing`;
    const shown = this.received.slice(0, 3).map((d) => show(d.text, 40)).join(', ');
    return `${this.name} got ${this.count} datagram${this.count === 1 ? '' : 's'}: ${shown}${this.count > 3 ? ', …' : ''}`;
  }
}

// ── the learner's call ────────────────────────────────────────────────────────

type Outcome = { state: 'pending' } | { state: 'resolved'; value: unknown } | { state: 'rejected'; reason: unknown };

/** One call of ask(): where its promise stands, and when it settled. */
class Call {
  outcome: Outcome = { state: 'pending' };
  settledAt?: number;
  readonly started = performance.now();
  constructor(c: Check<typeof Exercise>, ask: typeof Exercise.ask, port: number, question: string, options: Exercise.AskOptions) {
    const result: unknown = ask(port, question, options);
    if (!isThenable(result)) c.fail(`ask() returned ${show(result)}; expected a promise of the answer (return new Promise(…), or make the function async)`);
    Promise.resolve(result).then(
      (value) => this.#settle({ state: 'resolved', value }),
      (reason: unknown) => this.#settle({ state: 'rejected', reason }),
    );
  }

  #settle(outcome: Outcome): void {
    this.outcome = outcome;
    this.settledAt = performance.now();
    changed.notify();
  }

  get settled(): boolean {
    return this.outcome.state !== 'pending';
  }

  /** ms from the call to its settling (or to now) */
  get ms(): number {
    return Math.round((this.settledAt ?? performance.now()) - this.started);
  }

  /** The sends of this call's sockets since the call, in time order. */
  sends(): number[] {
    return socketsUsedSince(this.started).flatMap((s) => s.sends.filter((at) => at >= this.started)).sort((a, b) => a - b);
  }

  describe(): string {
    const o = this.outcome;
    if (o.state === 'pending') return 'your promise is still pending';
    if (o.state === 'resolved') return `your promise resolved with ${show(o.value)} after ${this.ms} ms`;
    return `your promise rejected with ${describeReason(o.reason)} after ${this.ms} ms`;
  }
}

/** Fail unless the call resolved with exactly `expected`. */
function expectAnswer(call: Call, expected: string, why: string): void {
  const o = call.outcome;
  if (o.state === 'rejected') fail(`${call.describe()}, but ${why}`, { expected: show(expected), actual: describeReason(o.reason) });
  if (o.state !== 'resolved') return;
  if (Buffer.isBuffer(o.value)) {
    fail(`your promise resolved with a Buffer; expected the answer as a string: decode it with message.toString('utf8')`, { expected: show(expected), actual: show(o.value) });
  }
  if (o.value !== expected) fail(`your promise resolved with something other than the answer (${why})`, { expected: show(expected), actual: show(o.value) });
}

/** Fail while the call's sockets are open; resolves once every one is closed. */
async function allClosed(call: Call, what: string, s: { timeoutMessage?: string; actual?: () => string }): Promise<void> {
  const open = () => socketsUsedSince(call.started).filter((t) => t.closedAt === undefined);
  s.timeoutMessage = `your socket is still open ${what}: close it (socket.close()) as soon as the promise settles — an open socket keeps receiving datagrams, and keeps the process alive`;
  s.actual = () => `${open().length} of your sockets still open; ${call.describe()}`;
  await changed.until(() => open().length === 0);
}

/** Fail if a socket of the call was closed while its promise was still pending. */
function closedTooEarly(call: Call): void {
  if (call.settled) return;
  const closed = socketsUsedSince(call.started).find((t) => t.closedLongAgo);
  if (closed) {
    fail(
      `your socket was closed ${Math.round(closed.closedAt! - call.started)} ms after the question was sent, before any answer came: a closed socket receives nothing — close it only once the promise settles`,
    );
  }
}

export default defineCheck<typeof Exercise>(async (c) => {
  // A worker may run this check again: start from a clean list.
  over = false;
  learnerSockets.length = 0;
  const ask = await c.exported('ask');
  const servers: Server[] = [];
  const server = async (name: string, onDatagram?: (d: Datagram, s: Server) => void, address?: string, port?: number) => {
    const s = new Server(name, onDatagram);
    servers.push(s);
    return s.bind(address, port);
  };

  try {
    // ── 1. the plain case ─────────────────────────────────────────────────────

    const prompt = await server('the server', (d, s) => void s.answer(d.from, answerTo(d.text)));
    const first = await c.step('asking a server that answers at once', async (s) => {
      const call = new Call(c, ask, prompt.port, 'hello?', { timeout: LONG, retries: 2 });
      s.actual = () => `${prompt.describe()}; ${call.describe()}`;
      await changed.until(() => {
        closedTooEarly(call);
        const wrong = prompt.received.find((d) => d.text !== 'hello?');
        if (wrong) fail(`the server got ${show(wrong.text)}; expected the question itself, as one datagram`, { expected: show('hello?'), actual: show(wrong.text) });
        s.timeoutMessage =
          prompt.count === 0
            ? `ask() sent nothing to ${HOST}:${prompt.port}: send the question with socket.send(question, port, HOST)`
            : `the server answered at once (from ${HOST}:${prompt.port}: that is what rinfo.address and rinfo.port say), but your promise did not settle: listen for 'message' and resolve with the answer`;
        return call.settled;
      });
      if (prompt.count === 0) {
        fail(`${call.describe()}, but the server never got the question: send it to ${HOST}:${prompt.port} with a udp4 socket, and resolve with what the server answers`);
      }
      expectAnswer(call, answerTo('hello?'), 'the server answered at once');
      if (call.ms >= LONG * 0.75) {
        fail(
          `your promise resolved ${call.ms} ms after the call, though the answer came at once: resolve in the 'message' listener, instead of waiting a fixed time (timeout: ${LONG}) before looking`,
        );
      }
      return call;
    });

    await c.step('checking that ask() closed its socket after the answer', (s) => allClosed(first, 'after the answer', s), { timeout: 300 });

    await c.step('asking a server that answers at once, with retries: 0', async (s) => {
      const call = new Call(c, ask, prompt.port, 'only once?', { timeout: LONG, retries: 0 });
      s.actual = () => `${prompt.describe()}; ${call.describe()}`;
      await changed.until(() => {
        closedTooEarly(call);
        return call.settled;
      });
      if (call.outcome.state === 'rejected') {
        fail(
          `${call.describe()}, though the server answers at once: with retries: 0 the one send is also the last, and it gets its timeout (${LONG} ms) to be answered like every other — reject only when that time is up`,
        );
      }
      expectAnswer(call, answerTo('only once?'), 'the server answered at once');
    });

    // ── 2. lost datagrams: ask again ─────────────────────────────────────────

    // Only the 3rd is answered: on a busy machine a retry can leave before that answer is read, and
    // answering it too would make this a test of duplicate answers (a later step is that test).
    const lossy = await server('the server', (d, s) => {
      if (s.count === 3) void s.answer(d.from, answerTo(d.text));
    });
    const retried = await c.step('asking a server that drops your first 2 datagrams', async (s) => {
      const options = { timeout: SHORT, retries: 8 };
      const call = new Call(c, ask, lossy.port, 'are you there?', options);
      s.actual = () => `${lossy.describe()}; ${call.describe()}`;
      s.timeoutMessage = 'your promise did not settle';
      await changed.until(() => {
        closedTooEarly(call);
        expectWaiting(call, options.timeout);
        if (lossy.count === 1) {
          s.timeoutMessage = `ask() sent the question once and then waited: when no answer comes within timeout (${options.timeout} ms), send it again`;
        }
        return call.settled;
      });
      const o = call.outcome;
      if (o.state === 'rejected') {
        fail(
          `${call.describe()}, after sending the question ${call.sends().length} time(s); the server answers the 3rd: with retries: ${options.retries}, ask() may send it up to ${options.retries + 1} times`,
        );
      }
      expectAnswer(call, answerTo('are you there?'), 'the server answered the 3rd datagram');
      const sent = call.sends().length;
      if (sent === options.retries + 1) {
        fail(`ask() sent all ${sent} datagrams although the server answered the 3rd one at once: wait up to timeout (${options.timeout} ms) for an answer after each send, and stop sending once it has come`);
      }
      return call;
    });

    await c.step('checking that ask() stopped sending after the answer', async (s) => {
      await allClosed(retried, 'after the answer', s);
      // A retry timer left running would fire within SHORT ms of the last send.
      await c.sleep(SHORT * 2);
      const late = retried.sends().filter((at) => at > retried.settledAt!);
      if (late.length > 0) {
        fail(`ask() sent the question ${late.length} more time(s) after the promise had resolved: clear the retry timer (clearTimeout) when you settle`);
      }
    });

    const slow = await server('the server', (d, s) => {
      // The answer to the first datagram, sent only once the retry has come: it arrives after the retry.
      if (s.count === 2) void s.answer(s.received[0].from, answerTo(s.received[0].text));
    });
    await c.step('asking a server that answers your first datagram late, after your retry', async (s) => {
      const options = { timeout: SHORT, retries: 6 };
      const call = new Call(c, ask, slow.port, 'still there?', options);
      s.actual = () => `${slow.describe()}; ${call.describe()}`;
      s.timeoutMessage = 'your promise did not settle after the late answer';
      await changed.until(() => {
        closedTooEarly(call);
        return call.settled;
      });
      if (call.outcome.state === 'rejected') {
        fail(
          `${call.describe()}: the server answered your first datagram after your retry, and ask() did not take that answer — an answer to any earlier send of the same question counts: use one socket, with one 'message' listener, for all the sends of a call`,
        );
      }
      expectAnswer(call, answerTo('still there?'), 'the answer to the first datagram came after the retry');
    });

    const echo = await server('the server', (d, s) => {
      void s.answer(d.from, answerTo(d.text));
      void s.answer(d.from, answerTo(d.text));
    });
    await c.step('asking a server that answers twice', async (s) => {
      const call = new Call(c, ask, echo.port, 'twice?', { timeout: LONG, retries: 1 });
      s.actual = () => `${echo.describe()}; ${call.describe()}`;
      await changed.until(() => {
        closedTooEarly(call);
        return call.settled;
      });
      expectAnswer(call, answerTo('twice?'), 'the same answer came twice: one datagram is one whole answer, and the second must change nothing');
      await allClosed(call, 'after the answer', s);
      // One more copy, late: the socket is closed, so it must go nowhere.
      const to = echo.received[0]?.from;
      if (to) await echo.answer(to, answerTo('twice?'));
    });

    // ── 3. no answer at all ───────────────────────────────────────────────────

    const silent = await server('the server');
    const giveUp = { timeout: SHORT, retries: 2 };
    const gaveUp = await c.step('asking a server that never answers', async (s) => {
      const call = new Call(c, ask, silent.port, 'anyone?', giveUp);
      const attempts = giveUp.retries + 1;
      s.actual = () => `${silent.describe()}; ${call.describe()}`;
      s.timeoutMessage = `your promise never settled: after the last of the ${attempts} sends has had its ${giveUp.timeout} ms, reject`;
      await changed.until(() => {
        expectWaiting(call, giveUp.timeout);
        const sent = call.sends().length;
        if (sent > attempts) {
          fail(`ask() sent the question ${sent} times; with retries: ${giveUp.retries} it may send it ${attempts} times (once, then ${giveUp.retries} retries), then give up`, {
            expected: `${attempts} datagrams, then a rejection`,
            actual: `${sent} datagrams; ${call.describe()}`,
          });
        }
        return call.settled;
      });
      const sends = call.sends();
      if (call.outcome.state === 'resolved') {
        fail(`${call.describe()}, but the server never answered: reject when no answer came`);
      }
      if (sends.length !== attempts) {
        fail(`ask() sent the question ${sends.length} time(s) before giving up; with retries: ${giveUp.retries} it must send it ${attempts} times: once, then ${giveUp.retries} retries`, {
          expected: `${attempts} datagrams`,
          actual: `${sends.length}`,
        });
      }
      return call;
    });

    await c.step('checking the error when no answer comes', () => {
      const o = gaveUp.outcome;
      const message = `no answer from ${HOST}:${silent.port} after ${giveUp.retries + 1} attempts`;
      const expected = `an Error: ${show(message)}, code 'ETIMEDOUT'`;
      const reason = o.state === 'rejected' ? o.reason : undefined;
      if (!(reason instanceof Error)) fail(`your promise rejected with ${show(reason)}; expected an Error`, { expected, actual: show(reason) });
      if (reason.message !== message) {
        fail('the message of your Error should say where the question went and how many times, in exactly these words', { expected, actual: describeReason(reason) });
      }
      const code = (reason as NodeJS.ErrnoException).code;
      if (code !== 'ETIMEDOUT') {
        fail("give your Error the code 'ETIMEDOUT', so a caller can tell \"no answer\" from other failures", { expected: "code 'ETIMEDOUT'", actual: code === undefined ? 'no code' : `code ${show(code)}` });
      }
    });

    await c.step('checking that ask() stopped and closed its socket after giving up', async (s) => {
      await allClosed(gaveUp, 'after giving up', s);
      await c.sleep(giveUp.timeout * 2);
      const late = gaveUp.sends().filter((at) => at > gaveUp.settledAt!);
      if (late.length > 0) fail(`ask() sent the question ${late.length} more time(s) after it had rejected: stop the retries when you settle`);
    }, { timeout: 300 });

    // ── 4. answers from someone else ──────────────────────────────────────────

    const impostor = await server('the other socket');
    const trusted = await server('the server', (d, s) => void impostorFirst(impostor, s, d));
    await c.step('asking a server whose answer comes after one from another port', async (s) => {
      const call = new Call(c, ask, trusted.port, 'who is it?', { timeout: LONG, retries: 0 });
      s.actual = () => `${trusted.describe()}; ${call.describe()}`;
      await changed.until(() => call.settled);
      expectFromServer(call, impostor, trusted, 'who is it?');
    });

    // Another address on the loopback, with the server's own port: only rinfo.address tells them apart.
    let twin: Server | undefined;
    const lookalike = await server('the server', (d, s) => {
      if (twin) void impostorFirst(twin, s, d);
    });
    twin = await server('the socket at 127.0.0.2', undefined, '127.0.0.2', lookalike.port).catch(() => undefined);
    await c.step('asking a server whose answer comes after one from another address, same port', async (s) => {
      if (!twin) return s.skip('127.0.0.2 is not an address of this machine (Linux and Windows have all of 127.0.0.0/8; macOS only 127.0.0.1)');
      const call = new Call(c, ask, lookalike.port, 'is it you?', { timeout: LONG, retries: 0 });
      s.actual = () => `${lookalike.describe()}; ${call.describe()}`;
      await changed.until(() => call.settled);
      expectFromServer(call, twin, lookalike, 'is it you?');
    });

    // ── 5. two calls at once ──────────────────────────────────────────────────

    const busy = await server('the server', (_d, s) => {
      // Once both questions are in, answer the second one first.
      if (s.count !== 2) return;
      const [a, b] = s.received;
      void s.answer(b.from, answerTo(b.text)).then(() => s.answer(a.from, answerTo(a.text)));
    });
    await c.step('two calls at once, answered in reverse order', async (s) => {
      const one = new Call(c, ask, busy.port, 'first?', { timeout: LONG, retries: 0 });
      const two = new Call(c, ask, busy.port, 'second?', { timeout: LONG, retries: 0 });
      s.actual = () => `${busy.describe()}; first call: ${one.describe()}; second call: ${two.describe()}`;
      await changed.until(() => {
        for (const call of [one, two]) {
          const o = call.outcome;
          if (o.state !== 'rejected') continue;
          const why =
            (o.reason as NodeJS.ErrnoException)?.code === 'EADDRINUSE'
              ? ': both calls tried to bind() the same fixed port — let send() bind a free one, or bind(0)'
              : '';
          fail(`a call rejected while two ran at once: ${call.describe()}${why}`);
        }
        return one.settled && two.settled;
      });
      const [a, b] = busy.received;
      if (a && b && a.from.port === b.from.port) {
        fail(
          `both calls sent their question from the same port (${a.from.port}): they shared one socket, so each call gets the other's answer too — create a socket in each call`,
        );
      }
      expectAnswer(one, answerTo('first?'), "each call takes its own answer, even when the other call's answer comes first");
      expectAnswer(two, answerTo('second?'), 'each call takes its own answer');
    });

    // ── 6. failures that retrying cannot fix ──────────────────────────────────

    await c.step('asking with a question too big for one datagram (65508 bytes)', async (s) => {
      const options = { timeout: 300, retries: 1 };
      const call = new Call(c, ask, silent.port, 'x'.repeat(65508), options);
      s.timeoutMessage = `your promise did not settle: a datagram of 65508 bytes cannot be sent (EMSGSIZE); send()'s callback gets that error — reject with it`;
      s.actual = () => call.describe();
      await changed.until(() => call.settled);
      const o = call.outcome;
      const code = o.state === 'rejected' ? (o.reason as NodeJS.ErrnoException)?.code : undefined;
      if (code !== 'EMSGSIZE') {
        fail(
          `${call.describe()}; expected a rejection with the error of send() (code EMSGSIZE: over 65507 bytes cannot go in one datagram) — give send() a callback and reject with its error at once: sending again cannot help`,
        );
      }
      if (call.sends().length > 1 || call.ms >= options.timeout * 0.75) {
        fail(`your promise rejected with EMSGSIZE, but only after ${call.sends().length} sends and ${call.ms} ms: reject as soon as send()'s callback gets the error`);
      }
      await allClosed(call, 'after the failed send', s);
    });

    // Outside the ephemeral range: a port bind(0) gave back could be bound again meanwhile.
    const nobody = { port: await unboundUdpPort() };
    await c.step('asking a port where nothing is bound', async (s) => {
      // Three sends: a connected socket hears "port unreachable" after each (so a busy machine cannot hide it).
      const call = new Call(c, ask, nobody.port, 'hello?', { timeout: SHORT, retries: 2 });
      s.timeoutMessage = 'your promise did not settle';
      s.actual = () => call.describe();
      await changed.until(() => call.settled);
      if (call.outcome.state === 'resolved') fail(`${call.describe()}, but nothing is bound on port ${nobody.port}: reject`);
      await allClosed(call, 'after the rejection', s);
    });
  } finally {
    over = true;
    // A socket the learner left open may still hear "port unreachable" after the verdict: that
    // must not end the check without one. The socket stays open, so the report of what was left
    // open still shows it.
    for (const t of learnerSockets) if (t.closedAt === undefined) t.socket.on('error', () => {});
    await Promise.all(servers.map((s) => s.close()));
    // A socket the learner closed a moment ago is still in the list of active handles for a turn.
    await turn();
  }
});

/**
 * Fail if the call's socket sent the question several times in one go, without
 * waiting for anything in between. (Time gaps would be a poor measure: Node
 * starts a timer from the moment its event loop last read the clock, so on a
 * busy machine a correct 10 ms timer can fire sooner after the send.)
 */
function expectWaiting(call: Call, timeout: number): void {
  const burst = Math.max(0, ...socketsUsedSince(call.started).map((t) => t.burst));
  if (burst > 1) {
    fail(`ask() sent the question ${burst} times in a row without waiting: send it once, then wait up to timeout (${timeout} ms) for the answer before sending it again`);
  }
}

/**
 * The impostor answers first; the server answers once the learner's socket has
 * received the impostor's datagram (or at once, if that socket is connected:
 * then its kernel drops the impostor's datagram).
 */
async function impostorFirst(impostor: Server, server: Server, d: Datagram): Promise<void> {
  const learner = learnerSockets.findLast((t) => t.closedAt === undefined && isBound(t.socket) && t.socket.address().port === d.from.port);
  const seen = learner && !isConnected(learner.socket)
    ? new Promise<void>((resolve) => {
        const onMessage = (_m: Buffer, rinfo: dc.RemoteInfo) => {
          if (rinfo.port !== impostor.port) return;
          learner.socket.off('message', onMessage);
          resolve();
        };
        learner.socket.prependListener('message', onMessage);
        learner.socket.once('close', () => resolve());
      })
    : Promise.resolve();
  await impostor.answer(d.from, 'not the answer');
  await seen;
  await server.answer(d.from, answerTo(d.text));
}

function isConnected(socket: dc.Socket): boolean {
  try {
    socket.remoteAddress();
    return true;
  } catch {
    return false;
  }
}

function expectFromServer(call: Call, impostor: Server, server: Server, question: string): void {
  const o = call.outcome;
  if (o.state === 'resolved' && o.value === 'not the answer') {
    fail(
      `your promise resolved with ${show(o.value)}, which came from ${impostor.socket.address().address}:${impostor.port}, not from the server you asked (${HOST}:${server.port}): anyone can send to your socket — check rinfo.address and rinfo.port (or connect() the socket)`,
    );
  }
  expectAnswer(call, answerTo(question), 'the answer from the server came right after the other datagram');
}

// The check for exercise 05: run it with `npm run check 05`.
//
// The check runs its own server, which answers a request only once its whole
// line has arrived (like lesson 05's), your client (the socket your
// sendRequest() writes to) and three clients of its own that send the same
// requests as two plain writes. All start with Nagle on. Every byte the server
// receives is compared with the requests as they arrive.
//
// Then it looks for the stall in each request: the server read the head, and
// the body only in a later read, and the round trip took long. Timing alone
// would be fooled on a busy machine, where a whole round can be late because
// the process did not run; then the head and the body are still read together.
// The kernel's ACK timing varies too (a stalled round takes 40 ms, or 200, or
// is acknowledged at once now and then), so the verdict counts rounds.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { HOST, Signal, defineCheck, fail, isThenable, show, type Recorder } from '../shared/check/index.ts';
import type * as Exercise from './exercise.ts';

const HEAD = 'ping ';
const body = (n: number) => `${n}\n`;
const request = (n: number) => HEAD + body(n);
const reply = (n: number) => `pong ${n}\n`;

/** Requests timed on your client per measurement, after its first request (not timed). */
const ROUNDS = 8;
/** Your requests pass when at most this many of ROUNDS were held back. */
const HELD_BACK_ALLOWED = 2;
/**
 * The check's own clients, sending two plain writes. Each stalled round costs
 * about 40 ms on Linux, so they run side by side: after one warm-up round each
 * (a new connection acknowledges at once at first), each times PLAIN_ROUNDS.
 */
const PLAIN_CLIENTS = 3;
const PLAIN_ROUNDS = 2;
/**
 * A machine busy with other work can blur one measurement: when yours look held
 * back, the check measures once more before its verdict. A request that really
 * waits for the delayed ACK waits nearly every time.
 */
const MEASUREMENTS = 2;
/** A round counts as held back when it took this long (ms; half of Linux's shortest delayed ACK) and the body came in a later read. */
const STALL_MS = 20;

/** The bytes of requests (or replies) 1 to `count`. */
const bytesOf = (count: number, of: (n: number) => string) =>
  Array.from({ length: count }, (_, i) => Buffer.byteLength(of(i + 1))).reduce((a, b) => a + b, 0);
/** The most requests a client is asked for: the server reads no more bytes than these from it. */
const MAX_REQUESTS = 1 + ROUNDS * MEASUREMENTS;

type Send = (socket: net.Socket, head: string, body: string) => unknown;

/** One client connection, seen from both ends. */
interface Conversation {
  who: string;
  socket: net.Socket;
  /** the requests asked for so far: the server must receive exactly these, in order */
  requests: string[];
  /** what the client received from the server */
  replies: Recorder;
  /** what the server received from the client (set once the server accepted it) */
  received?: Recorder;
  /** the server's reads ('data' events) of the current request */
  reads: number;
}

/** One timed request: how long until its reply, and in how many reads the server got it. */
interface Round {
  ms: number;
  reads: number;
}


export default defineCheck<typeof Exercise>(async (c) => {
  const sendRequest = await c.exported('sendRequest');

  // ── the check's server: answers whole lines only, records every byte ──
  const changed = new Signal();
  /** who the next accepted connection is: clients connect one after another */
  const accepting: Conversation[] = [];
  const server = c.name(
    net.createServer((socket) => {
      socket.on('error', () => {});
      const conv = accepting.shift();
      if (!conv) return void socket.destroy();
      c.name(socket, `the check's server, its end of the connection of ${conv.who}`);
      // The server reads no more than the requests it will ask for: a client that sends more is stopped.
      conv.received = c.record(socket, { maxBytes: bytesOf(MAX_REQUESTS, request), from: conv.who });
      socket.setEncoding('utf8');
      let pending = '';
      socket.on('data', (text: string) => {
        pending += text;
        let newline: number;
        // A reply only for a whole line: the server cannot answer half a request.
        // That is what makes two plain writes wait for the delayed ACK.
        while ((newline = pending.indexOf('\n')) !== -1) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          socket.write(line.startsWith(HEAD) ? `pong ${line.slice(HEAD.length)}\n` : `unknown request ${JSON.stringify(line)}\n`);
        }
      });
      socket.on('data', () => {
        conv.reads += 1;
        changed.notify();
      });
      socket.on('close', () => changed.notify());
      changed.notify();
    }),
    "the check's server",
  );

  /** Connect one client and wait until the server has accepted it. */
  async function open(port: number, who: string, name: string): Promise<Conversation> {
    const conv = { who, requests: [], reads: 0 } as unknown as Conversation;
    accepting.push(conv);
    conv.socket = await c.connect(port, { name });
    conv.replies = c.record(conv.socket, { maxBytes: bytesOf(MAX_REQUESTS, reply), from: "the check's server" });
    conv.socket.on('data', () => changed.notify());
    conv.socket.on('close', () => changed.notify());
    await changed.until(() => conv.received !== undefined);
    return conv;
  }

  const serverGot = (conv: Conversation) => conv.received?.text ?? '';

  /** Fails at once when the server got a byte that is not the next byte of the requests. */
  function checkBytes(conv: Conversation): void {
    if (conv.received?.overflow) throw conv.received.overflow;
    const got = serverGot(conv);
    const expected = conv.requests.join('');
    if (expected.startsWith(got)) return;
    // Name the request where the bytes went wrong, and show only that one.
    let start = 0;
    let n = 0;
    while (n < conv.requests.length - 1 && start + conv.requests[n].length <= firstDifference(got, expected)) start += conv.requests[n++].length;
    const want = conv.requests[n];
    fail(
      `the server received bytes that are not request ${n + 1} from ${conv.who}: a request is the head, then the body, and nothing else`,
      { expected: `${show(want)} (head ${show(HEAD)}, then body ${show(want.slice(HEAD.length))})`, actual: show(got.slice(start)) },
    );
  }

  /** Wait for the reply to the last request, checking every byte the server gets meanwhile. */
  async function untilReplied(conv: Conversation): Promise<void> {
    const replies = conv.requests.map((_, i) => reply(i + 1)).join('');
    await changed.until(() => {
      checkBytes(conv);
      if (conv.replies.overflow) throw conv.replies.overflow;
      if (conv.replies.received >= Buffer.byteLength(replies)) return true;
      if (conv.replies.gotClose) fail(`the connection of ${conv.who} closed before the reply to request ${conv.requests.length} arrived`, { actual: describe(conv) });
      return false;
    });
    c.expectEqual(conv.replies.text, replies, `${conv.who} got replies it did not ask for`);
  }

  /** Ask `send` for the next request and check it handed exactly its bytes to the socket. */
  async function hand(conv: Conversation, send: Send): Promise<void> {
    const { socket } = conv;
    const n = conv.requests.length + 1;
    const before = socket.bytesWritten;
    conv.requests.push(request(n));
    conv.reads = 0;
    const result = send(socket, HEAD, body(n));
    if (isThenable(result)) await result;
    if (socket.destroyed) {
      fail('sendRequest() destroyed the socket: the connection must stay open for the next request');
    }
    if (socket.writableEnded) {
      fail(
        'sendRequest() called end() on the socket: end() sends a FIN after the bytes, and a connection that sent its FIN carries no more requests — ' +
          'the newline already tells the server where a request ends',
      );
    }
    const handed = socket.bytesWritten - before;
    const size = Buffer.byteLength(request(n));
    if (handed !== size) {
      fail(
        (handed === 0
          ? 'sendRequest() returned without writing anything to the socket'
          : `sendRequest() wrote ${handed} B to the socket, but the request is ${size} B: the head, then the body, each once`) +
          (handed < size ? ' (the check counts the bytes written by the time it returns: a write in a callback or a timer comes too late)' : ''),
        { expected: `${size} B: ${show(HEAD)}, then ${show(body(n))}`, actual: `${handed} B` },
      );
    }
  }

  /** One line: what the server got, where the rest is, what came back. */
  function describe(conv: Conversation): string {
    const { socket } = conv;
    const parts = [`the server received ${show(serverGot(conv))}`];
    if (socket.writableCorked > 0) {
      parts.push(
        `${socket.writableLength} B are still in Node's buffer because the socket is corked (writableCorked = ${socket.writableCorked}): ` +
          'cork() holds writes until uncork() is called as many times',
      );
    } else if (socket.writableLength > 0) {
      parts.push(`${socket.writableLength} B are still in Node's buffer`);
    }
    parts.push(conv.replies.received === 0 ? 'no reply yet' : `replies so far ${show(conv.replies.text)}`);
    return parts.join('; ');
  }

  /** One request and its reply: the round trip in ms, and the server's reads of the request. */
  async function roundTrip(conv: Conversation, send: Send): Promise<Round> {
    const start = performance.now();
    await hand(conv, send);
    await untilReplied(conv);
    return { ms: performance.now() - start, reads: conv.reads };
  }

  const twoWrites: Send = (socket, head, body) => {
    socket.write(head);
    socket.write(body);
  };

  const { yours, plain } = await c.step("connecting your client and the check's clients to the check's server", async () => {
    server.listen(0, HOST);
    const { port } = await c.listening(server);
    const yours = await open(port, 'your client', 'the socket given to sendRequest()');
    const plain: Conversation[] = [];
    for (let i = 1; i <= PLAIN_CLIENTS; i += 1) {
      plain.push(await open(port, `the check's client ${i}`, `the check's client ${i} (two plain writes)`));
    }
    return { yours, plain };
  }, { timeout: 10_000 }); // the check's own work, which a busy machine may slow down

  await c.step('calling sendRequest() for the first request', async (s) => {
    s.timeoutMessage = 'sendRequest() returned a promise that never settled';
    await hand(yours, sendRequest);
  });

  await c.step('waiting for the server to receive the first request', async (s) => {
    s.timeoutMessage = 'the server never received the whole first request, so it could not answer';
    s.expected = `the server receives ${show(request(1))}, then your client gets ${show(reply(1))}`;
    s.actual = () => describe(yours);
    await untilReplied(yours);
  });

  /** Your next ROUNDS requests, and PLAIN_ROUNDS on each of the check's clients, all at the same time. */
  const measure = async () => {
    const [mine, ...theirs] = await Promise.all([
      (async () => {
        const rounds: Round[] = [];
        for (let i = 0; i < ROUNDS; i += 1) rounds.push(await roundTrip(yours, sendRequest));
        return rounds;
      })(),
      ...plain.map(async (conv) => {
        if (conv.requests.length === 0) await roundTrip(conv, twoWrites); // the warm-up round: not timed
        const rounds: Round[] = [];
        for (let i = 0; i < PLAIN_ROUNDS; i += 1) rounds.push(await roundTrip(conv, twoWrites));
        return rounds;
      }),
    ]);
    return { mine, theirs: theirs.flat() };
  };
  const timeouts = (s: { timeoutMessage?: string; actual?: () => string }) => {
    s.timeoutMessage = 'the requests did not all get their replies';
    s.actual = () => [yours, ...plain].map((conv) => `${conv.who}: ${describe(conv)}`).join(' — ');
  };

  let times = await c.step(
    `timing ${ROUNDS} more requests: yours, and two plain writes on the check's clients`,
    (s) => {
      timeouts(s);
      return measure();
    },
    { timeout: 10_000 },
  );

  await c.step('checking every byte the server received from your client', () => {
    c.expectEqual(serverGot(yours), yours.requests.join(''), `the server did not receive exactly your ${yours.requests.length} requests, in order`);
  });

  await c.step(
    'comparing your round trips with two plain writes',
    async (s) => {
      timeouts(s);
      for (let measured = 1; ; measured += 1) {
        const mine = heldBack(times.mine);
        const theirs = heldBack(times.theirs);
        if (theirs.length === 0) {
          if (measured < MEASUREMENTS) {
            times = await measure();
            continue;
          }
          s.skip(
            `two plain writes were not held back on this machine just now (${process.platform}; ${rounds(times.theirs)}), so there is no stall to avoid here: ` +
              'timings not compared, the bytes were checked',
          );
        }
        if (mine.length <= HELD_BACK_ALLOWED) return;
        if (measured === MEASUREMENTS) {
          fail(
            'your requests wait like two plain writes: the server got the head, and the body only after waiting for its delayed ACK — ' +
              "Nagle holds back the second piece until the server acknowledges the first. See \"Three ways out\" in lesson 05's README",
            {
              expected: `at most ${HELD_BACK_ALLOWED} of your ${ROUNDS} requests held back (two plain writes: ${theirs.length} of ${times.theirs.length} held back; ${rounds(times.theirs)})`,
              actual: `${mine.length} of ${ROUNDS} held back (${rounds(times.mine)}), measured ${MEASUREMENTS} times`,
            },
          );
        }
        times = await measure();
      }
    },
    { timeout: 10_000 },
  );
});

/** The rounds whose body reached the server in a later read than its head, and late. */
function heldBack(rounds: readonly Round[]): Round[] {
  return rounds.filter((round) => round.reads > 1 && round.ms >= STALL_MS);
}

/** "44.1 ms (2 reads), 0.3 ms, …" */
function rounds(list: readonly Round[]): string {
  return list.map((round) => `${round.ms.toFixed(1)} ms${round.reads > 1 ? ` (${round.reads} reads)` : ''}`).join(', ');
}

/** The index of the first character where `a` and `b` differ (the shorter length if one starts the other). */
function firstDifference(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i += 1;
  return i;
}

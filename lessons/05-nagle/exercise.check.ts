// The check for exercise 05: run it with `npm run check 05`.
//
// The check runs its own server, which answers a request only once its whole
// line has arrived (like lesson 05's), and two clients: the socket your
// sendRequest() writes to, and one of its own that sends the same requests as
// two plain writes. Both start with Nagle on. Every byte the server receives
// is compared with the requests as they arrive; then the round trips of the
// two clients, measured at the same time, are compared.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { HOST, Signal, defineCheck, fail, isThenable, median, show } from '../shared/check/index.ts';
import type * as Exercise from './exercise.ts';

const HEAD = 'ping ';
const body = (n: number) => `${n}\n`;
const request = (n: number) => HEAD + body(n);
const reply = (n: number) => `pong ${n}\n`;

/** Requests timed on each client after the first. A stalled one costs about 40 ms on Linux; both clients run at once. */
const ROUNDS = 7;
/** Two plain writes count as stalled when their median is above this (ms): half of Linux's shortest delayed ACK. */
const STALL_MS = 20;

type Send = (socket: net.Socket, head: string, body: string) => unknown;

/** One client connection, seen from both ends. */
interface Conversation {
  who: string;
  socket: net.Socket;
  /** the requests asked for so far: the server must receive exactly these, in order */
  requests: string[];
  /** what the client has received from the server */
  replies: string;
  closed: boolean;
}

const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 1)} ms`;
const list = (values: readonly number[]) => values.map((v) => v.toFixed(1)).join(', ');

export default defineCheck<typeof Exercise>(async (c) => {
  const sendRequest = await c.exported('sendRequest');

  // ── the check's server: answers whole lines only, records every byte ──
  const changed = new Signal();
  /** what the server received, by the client's port */
  const received = new Map<number, string>();
  /** the server's side of each connection, by the client's port */
  const accepted = new Map<number, net.Socket>();
  const server = c.name(
    net.createServer((socket) => {
      socket.on('error', () => {});
      const port = socket.remotePort!;
      received.set(port, '');
      accepted.set(port, socket);
      changed.notify();
      socket.setEncoding('utf8');
      let pending = '';
      socket.on('data', (text: string) => {
        received.set(port, received.get(port)! + text);
        pending += text;
        let newline: number;
        // A reply only for a whole line: the server cannot answer half a request.
        // That is what makes two plain writes wait for the delayed ACK.
        while ((newline = pending.indexOf('\n')) !== -1) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          socket.write(line.startsWith(HEAD) ? `pong ${line.slice(HEAD.length)}\n` : `unknown request ${JSON.stringify(line)}\n`);
        }
        changed.notify();
      });
    }),
    "the check's server",
  );

  function open(socket: net.Socket, who: string): Conversation {
    const conversation: Conversation = { who, socket, requests: [], replies: '', closed: false };
    socket.on('data', (chunk: Buffer) => {
      conversation.replies += chunk.toString('utf8');
      changed.notify();
    });
    socket.on('close', () => {
      conversation.closed = true;
      changed.notify();
    });
    return conversation;
  }

  const serverGot = (conv: Conversation) => received.get(conv.socket.localPort!) ?? '';

  /** Fails at once when the server got a byte that is not the next byte of the requests. */
  function checkBytes(conv: Conversation): void {
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
      if (conv.replies.length >= replies.length) return true;
      if (conv.closed) fail(`the connection of ${conv.who} closed before the reply to request ${conv.requests.length} arrived`, { actual: describe(conv) });
      return false;
    });
    c.expectEqual(conv.replies, replies, `${conv.who} got replies it did not ask for`);
  }

  /** Ask `send` for request `n` and check it handed exactly that many bytes to the socket. */
  async function hand(conv: Conversation, n: number, send: Send): Promise<void> {
    const { socket } = conv;
    const before = socket.bytesWritten;
    conv.requests.push(request(n));
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
    parts.push(conv.replies === '' ? 'no reply yet' : `replies so far ${show(conv.replies)}`);
    return parts.join('; ');
  }

  const { yours, plain } = await c.step("connecting two clients to the check's server", async () => {
    server.listen(0, HOST);
    const { port } = await c.listening(server);
    const yours = open(await c.connect(port, { name: 'the socket given to sendRequest()' }), 'your client');
    const plain = open(await c.connect(port, { name: "the check's client (two plain writes)" }), "the check's client");
    // Name the server's ends too, for the report of a step that times out.
    await changed.until(() => accepted.has(yours.socket.localPort!) && accepted.has(plain.socket.localPort!));
    c.name(accepted.get(yours.socket.localPort!)!, "the check's server, its end of your client's connection");
    c.name(accepted.get(plain.socket.localPort!)!, "the check's server, its end of the check's client's connection");
    return { yours, plain };
  });

  await c.step('calling sendRequest() for the first request', async (s) => {
    s.timeoutMessage = 'sendRequest() returned a promise that never settled';
    await hand(yours, 1, sendRequest);
  });

  await c.step('waiting for the server to receive the first request', async (s) => {
    s.timeoutMessage = 'the server never received the whole first request, so it could not answer';
    s.expected = `the server receives ${show(request(1))}, then your client gets ${show(reply(1))}`;
    s.actual = () => describe(yours);
    await untilReplied(yours);
  });

  // Both clients at once: the stalled one spends its time waiting for timers.
  const times = await c.step(
    `timing ${ROUNDS} more requests: yours, and two plain writes on the check's client`,
    async (s) => {
      s.timeoutMessage = 'the requests did not all get their replies';
      s.actual = () => `your client: ${describe(yours)} — the check's client: ${describe(plain)}`;
      const roundTrip = async (conv: Conversation, n: number, send: Send) => {
        const start = performance.now();
        await hand(conv, n, send);
        await untilReplied(conv);
        return performance.now() - start;
      };
      const twoWrites: Send = (socket, head, body) => {
        socket.write(head);
        socket.write(body);
      };
      const [mine, theirs] = await Promise.all([
        (async () => {
          const rtts: number[] = [];
          for (let n = 2; n <= ROUNDS + 1; n += 1) rtts.push(await roundTrip(yours, n, sendRequest));
          return rtts;
        })(),
        (async () => {
          await roundTrip(plain, 1, twoWrites); // a new connection acknowledges at once at first: not timed
          const rtts: number[] = [];
          for (let n = 2; n <= ROUNDS + 1; n += 1) rtts.push(await roundTrip(plain, n, twoWrites));
          return rtts;
        })(),
      ]);
      return { mine, theirs };
    },
    { timeout: 10_000 },
  );

  await c.step('checking every byte the server received from your client', () => {
    c.expectEqual(serverGot(yours), yours.requests.join(''), `the server did not receive exactly your ${yours.requests.length} requests, in order`);
  });

  await c.step('comparing your round trips with two plain writes', (s) => {
    const baseline = median(times.theirs);
    const mine = median(times.mine);
    if (baseline <= STALL_MS) {
      s.skip(
        `two plain writes did not stall on this machine (${process.platform}; median ${ms(baseline)}), so there is no stall to avoid here: ` +
          'timings not compared, the bytes were checked',
      );
    }
    if (!(mine < baseline / 2)) {
      fail(
        'your requests wait like two plain writes: Nagle holds back the second piece until the server acknowledges the first, ' +
          "and the server delays that ACK — see \"Three ways out\" in lesson 05's README",
        {
          expected: `a median round trip below ${ms(baseline / 2)} (half of two plain writes: median ${ms(baseline)}; ${list(times.theirs)} ms)`,
          actual: `median ${ms(mine)} (${list(times.mine)} ms)`,
        },
      );
    }
  });
});

/** The index of the first character where `a` and `b` differ (the shorter length if one starts the other). */
function firstDifference(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i += 1;
  return i;
}

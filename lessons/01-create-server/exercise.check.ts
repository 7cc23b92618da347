// The check for exercise 01: run it with `npm run check 01`.
import net from 'node:net';
import { Signal, defineCheck, fail, isThenable, show, type Check, type Step } from '../shared/check/index.ts';
import type * as Exercise from './exercise.ts';

// The check's own copy: changing GREETING in exercise.ts does not change what is expected.
const GREETING = 'Hello from the TCP workbook!\n';
const GREETING_BYTES = Buffer.byteLength(GREETING);

/** The server a learner's startGreeter() returned; a promise is refused (the text says: return the server). */
async function serverOf(c: Check<typeof Exercise>, value: unknown, what: string, step: Step): Promise<net.Server> {
  if (isThenable(value)) {
    const message =
      `${what} returned a promise (is it async, or does it wait for 'listening'?); expected the net.Server itself —` +
      " call listen() and return the server at once: the check waits for 'listening' and reads the port itself";
    step.timeoutMessage = message;
    // Let it settle first, so that the server it started is listening and gets closed with the rest.
    await Promise.resolve(value).catch(() => {});
    fail(message);
  }
  return c.serverFrom(value, what);
}

export default defineCheck<typeof Exercise>(async (c) => {
  const startGreeter = await c.exported('startGreeter');
  const server = await c.step('calling startGreeter()', (s) => serverOf(c, startGreeter(), 'startGreeter()', s));

  // The server's side of each connection, by the client's port. Prepended: the learner's code may
  // destroy the socket at once, and a destroyed socket no longer knows its peer's port.
  const accepted = new Map<number, net.Socket>();
  const arrived = new Signal();
  server.prependListener('connection', (socket: net.Socket) => {
    accepted.set(socket.remotePort ?? 0, socket);
    arrived.notify();
  });
  // Resolves once the learner's 'connection' listener has run for that client too.
  const serverSide = async (client: net.Socket): Promise<net.Socket> => {
    await arrived.until(() => accepted.has(client.localPort ?? -1));
    return accepted.get(client.localPort ?? -1)!;
  };
  const closed = (socket: net.Socket): Promise<void> =>
    new Promise((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve())));

  await c.step("waiting for your server to emit 'listening'", (s) => c.listening(server, s));
  const { port } = await c.step('checking where your server listens', () => c.expectLoopbackPort0(server));

  const client = await c.step('connecting to your server', () => c.connect(port, { name: 'the first client' }));
  const first = c.record(client, { maxBytes: GREETING_BYTES, from: 'your server' });

  await c.step('waiting for the greeting', async (s) => {
    s.timeoutMessage =
      'your server accepted the connection but did not send the whole greeting (this client sends nothing: greet it as soon as it connects, without waiting for data)';
    s.expected = show(GREETING);
    s.actual = () => first.describe();
    await first.wait((r) => r.received >= GREETING_BYTES || r.gotEnd, 'the greeting');
    const got = first.bytes.subarray(0, GREETING_BYTES).toString('utf8');
    c.expectEqual(got, GREETING, got.length < GREETING.length ? 'your server ended the connection before the whole greeting: write the greeting first, then end() (or end(GREETING))' : 'your server sent something other than the greeting');
  });

  await c.step('waiting for your server to end() after the greeting', async (s) => {
    s.timeoutMessage = 'the greeting arrived, but your server never ended the connection: call socket.end() after writing (or socket.end(GREETING))';
    s.expected = `${show(GREETING)}, then a FIN`;
    s.actual = () => first.describe();
    await first.untilEnd();
    c.expectEqual(first.text, GREETING, 'your server sent more than the greeting before its FIN');
  });

  await c.step('checking that your server used end(), not destroy()', async (s) => {
    const socket = await serverSide(client);
    s.timeoutMessage = "the first client answered your FIN with its own, but your server's side of the connection never closed";
    await closed(socket);
    if (!socket.writableFinished) {
      fail(
        "your server closed the connection with destroy() (or before end() had finished): this client got the whole greeting and a FIN all the same, only because the kernel had already taken all 29 bytes. destroy() drops whatever Node still holds, and a client cannot tell a cut-off reply from a whole one — end() sends the FIN after the last byte: use socket.end(GREETING)",
      );
    }
  });

  await c.step('greeting a second client', async (s) => {
    const second = c.record(await c.connect(port, { name: 'the second client' }), { maxBytes: GREETING_BYTES, from: 'your server' });
    s.timeoutMessage = 'the second client did not get the greeting and a FIN: does your server greet every client, not just the first?';
    s.expected = `${show(GREETING)}, then a FIN`;
    s.actual = () => second.describe();
    await second.untilEnd();
    c.expectEqual(second.text, GREETING, 'the second client got something other than the greeting');
  });

  await c.step('a client resets its connection: your server must not crash', async (s) => {
    // allowHalfOpen: this client never sends its own FIN, so its connection is still open to reset.
    const rude = await c.connect(port, { name: 'the client that resets', allowHalfOpen: true });
    const socket = await serverSide(rude);
    if (socket.listenerCount('error') === 0) {
      fail(
        "your server's socket for this client has no 'error' listener. This client now resets its connection (as a crashed program or a broken network does): the socket emits 'error', and an 'error' nobody listens for is thrown — it would stop your whole server, for every client. Add socket.on('error', …) in your connection handler (a listener on the server does not cover its sockets)",
      );
    }
    s.timeoutMessage = "the client reset its connection, but your server's side of it never closed";
    const gone = closed(socket);
    rude.resetAndDestroy();
    await gone;
    const after = c.record(await c.connect(port, { name: 'a client after the reset' }), { maxBytes: GREETING_BYTES, from: 'your server' });
    s.expected = `${show(GREETING)}, then a FIN`;
    s.actual = () => `a client after the reset: ${after.describe()}`;
    await after.untilEnd();
    c.expectEqual(after.text, GREETING, 'after the reset, a new client got something other than the greeting');
  });

  await c.step('calling startGreeter() again: a second server of its own', async (s) => {
    let value: unknown;
    try {
      value = startGreeter();
    } catch (err) {
      const why = err instanceof Error ? `${(err as NodeJS.ErrnoException).code ?? err.name}: ${err.message}` : String(err);
      fail(
        `calling startGreeter() a second time threw ${why} — does it reuse one server made at the top of your file? Create the server inside startGreeter(), so that each call makes a server of its own`,
      );
    }
    if (value === server) {
      fail('startGreeter() returned the same server again; each call must create a server of its own (create it inside startGreeter(), not at the top of your file)');
    }
    const other = c.name(await serverOf(c, value, 'startGreeter()', s), 'your second server');
    await c.listening(other, s);
    const { port: otherPort } = c.expectLoopbackPort0(other);
    const rx = c.record(await c.connect(otherPort, { name: 'a client of your second server' }), { maxBytes: GREETING_BYTES, from: 'your second server' });
    s.timeoutMessage = 'a client of your second server did not get the greeting and a FIN';
    s.expected = `${show(GREETING)}, then a FIN`;
    s.actual = () => rx.describe();
    await rx.untilEnd();
    c.expectEqual(rx.text, GREETING, 'a client of your second server got something other than the greeting');
  });
});

// The check for exercise 02: run it with `npm run check 02`.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { HOST, Signal, defineCheck, fail, formatBytes, isThenable, show, turn } from '../shared/check/index.ts';
import type * as Exercise from './exercise.ts';

// Far more than the kernel's socket buffers hold, so most of it is still in
// Node when shutdown() runs: end() delivers it, destroy() drops it.
const REPLY_SIZE = 8 * 1024 * 1024;
/** The graceMs the check passes to shutdown(): short, so that the check stays fast. */
const GRACE_MS = 100;
/** How late after graceMs the last connection may be destroyed (plus two turns of the event loop, and as long as the shutdown() call itself took). */
const LATE_MS = 25;
/** The other server's graceMs: everything there closes long before, so its timer must be cleared. */
const OTHER_GRACE_MS = 10_000;

type Shutdown = (graceMs: number) => Promise<void>;
type Role = 'idle' | 'busy' | 'stubborn';

const CONNECTIONS: Record<Role, string> = {
  idle: 'the idle connection',
  busy: 'the busy connection',
  stubborn: 'the connection that never closes',
};
const NAMES: Record<Role, string> = {
  idle: 'the idle client',
  busy: 'the busy client',
  stubborn: 'the client that never closes its side',
};

/** What happened to the server's side of one connection. */
interface Side {
  socket: net.Socket;
  /** ms after shutdown() was called: when destroy() was called on it, other than by Node after both FINs */
  destroyedAt?: number;
  /** that destroy() came before the check's own graceMs timer had fired */
  early?: boolean;
  /** …or after the time allowed past graceMs */
  late?: boolean;
  /** it was destroyed in the middle of a reply (Node still held part of it) */
  midReply?: boolean;
  /** …by a 'timeout' listener: socket.setTimeout(), an idle timeout, not a deadline */
  onIdleTimeout?: boolean;
  closedAt?: number;
}

/** Wait `turns` turns of the event loop. */
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) await turn();
}

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((type) => type === 'Timeout').length;
}

export default defineCheck<typeof Exercise>(async (c) => {
  const gracefulShutdown = await c.exported('gracefulShutdown');

  // The servers are the check's: the learner's code only shuts them down.
  const server = c.name(net.createServer(), "the check's server");
  const other = c.name(net.createServer(), "the check's other server");
  // The servers read (and drop) what comes: a byte from a client is activity on its connection.
  for (const s of [server, other]) s.on('connection', (socket: net.Socket) => socket.on('error', () => {}).resume());

  let t0 = 0; // when shutdown() was called
  const since = () => performance.now() - t0;
  const changed = new Signal();
  let graceOver = false; // the check's own graceMs timer has fired
  let lateOver = false; // …and the time allowed after it has passed too
  let ownTimers = 0; // the check's own timers still running (left out when counting the learner's)
  const sides = new Map<Role, Side>();
  const accepted = new Map<number, net.Socket>(); // the server's sockets, by the client's port
  server.on('connection', (socket: net.Socket) => {
    accepted.set(socket.remotePort ?? -1, socket);
    changed.notify();
  });
  /** Watch the server's side of `client`'s connection. */
  const watch = async (role: Role, client: net.Socket): Promise<void> => {
    await changed.until(() => accepted.has(client.localPort ?? -1));
    const socket = accepted.get(client.localPort ?? -1)!;
    const side: Side = { socket };
    sides.set(role, side);
    c.name(socket, `the server's side of ${NAMES[role]}`);
    // Every way to cut a connection (destroy(), resetAndDestroy(), destroySoon()) calls destroy().
    // Node calls it too once both sides have sent their FIN: that one is a clean close.
    // 'timeout' listeners run one after the other, in one go: a destroy() among them came from the idle timer.
    let timingOut = false;
    socket.prependListener('timeout', () => {
      timingOut = true;
      queueMicrotask(() => (timingOut = false));
    });
    const destroy = socket.destroy;
    socket.destroy = function (this: net.Socket, ...args: Parameters<net.Socket['destroy']>) {
      if (side.destroyedAt === undefined && !(socket.writableFinished && socket.readableEnded)) {
        side.destroyedAt = since();
        side.early = !graceOver;
        side.late = lateOver;
        side.midReply = socket.writableLength > 0;
        side.onIdleTimeout = timingOut;
        changed.notify();
      }
      return destroy.apply(this, args);
    };
    socket.on('close', () => {
      side.closedAt = since();
      changed.notify();
    });
  };

  const [shutdown, shutdownOther] = await c.step('calling gracefulShutdown(server)', () =>
    [server, other].map((s) => {
      const fn: unknown = gracefulShutdown(s);
      if (isThenable(fn)) {
        Promise.resolve(fn).catch(() => {});
        fail('gracefulShutdown(server) returned a promise; expected the function shutdown() itself — gracefulShutdown only prepares: do not make it async');
      }
      if (typeof fn !== 'function') fail(`gracefulShutdown(server) returned ${show(fn)}; expected the function shutdown(graceMs)`);
      return fn as Shutdown;
    }),
  );

  const clients = await c.step(
    'opening four connections: an idle one, a busy one, one that never closes, and one to another server',
    async () => {
      server.listen(0, HOST);
      other.listen(0, HOST);
      const [{ port }, { port: otherPort }] = await Promise.all([c.listening(server), c.listening(other)]);
      const open = async (role: Role, options: { allowHalfOpen?: boolean } = {}) => {
        const socket = await c.connect(port, { name: NAMES[role], ...options });
        await watch(role, socket);
        return socket;
      };
      const idle = await open('idle');
      const busy = await open('busy');
      busy.pause(); // it reads nothing until shutdown() has been called
      // allowHalfOpen: it reads, and it never answers the server's FIN with its own.
      const stubborn = await open('stubborn', { allowHalfOpen: true });
      const bystander = await c.connect(otherPort, { name: 'the client of the other server' });
      // The busy client does not read yet, so most of this reply waits in Node's buffer.
      sides.get('busy')!.socket.write(Buffer.alloc(REPLY_SIZE, 'x'));
      return { idle, busy, stubborn, bystander };
    },
    { timeout: 10_000 }, // a large write: slow on a busy machine
  );
  const idleRx = c.record(clients.idle, { maxBytes: 0, from: 'your server' });
  const busyRx = c.record(clients.busy, { keepBytes: false, maxBytes: REPLY_SIZE, from: 'your server' }); // paused: reads later
  const stubbornRx = c.record(clients.stubborn, { maxBytes: 0, from: 'your server' });
  const bystanderRx = c.record(clients.bystander, { maxBytes: 0, from: 'the other server' });

  // Watch what shutdown() does: its close() call, the server's 'close', the promise.
  let closeCalled = false;
  const close = server.close;
  server.close = function (this: net.Server, ...args: Parameters<net.Server['close']>) {
    closeCalled = true;
    changed.notify();
    return close.apply(this, args);
  };
  let serverClosedAt: number | undefined;
  // Resolving on 'close' (close(callback), once(server, 'close')) settles the promise before the
  // event loop turns once more; a timer, however short, can only fire on a later turn.
  let promptAfterClose = true;
  server.once('close', () => {
    serverClosedAt = since();
    setImmediate(() => (promptAfterClose = false));
    changed.notify();
  });
  let trickling: NodeJS.Timeout | undefined; // the stubborn client's next byte
  let settled: string | undefined;
  let resolvedAt: number | undefined;
  let resolvedPromptly = false;

  const done = await c.step('calling shutdown(graceMs)', () => {
    // The check's own graceMs timer, started just before shutdown() starts the learner's: it
    // fires first (or in the same turn, first), so a destroy before it is one before graceMs.
    t0 = performance.now();
    // How long the call itself took: the learner's timer starts somewhere inside it, so on a busy
    // machine its graceMs can end this much after the check's.
    let callMs = 0;
    ownTimers += 1;
    const timer = c.setTimeout(() => {
      ownTimers -= 1;
      graceOver = true;
      changed.notify();
      void turns(2)
        .then(() => {
          ownTimers += 1;
          return c.sleep(c.scaled(LATE_MS) + callMs);
        })
        .then(() => {
          ownTimers -= 1;
          lateOver = true;
          changed.notify();
        });
    }, GRACE_MS);
    let result: unknown;
    try {
      result = shutdown(GRACE_MS);
      callMs = performance.now() - t0;
    } catch (err) {
      c.clearTimeout(timer);
      ownTimers -= 1;
      throw err;
    }
    if (!isThenable(result)) {
      c.clearTimeout(timer);
      ownTimers -= 1;
      fail(`shutdown(graceMs) returned ${show(result)}; expected a promise that resolves once the server has closed`);
    }
    clients.busy.resume(); // now the busy client reads its reply
    // The client that never closes keeps talking, a byte now and then: only a deadline ends it.
    // An idle timeout (socket.setTimeout(graceMs)) starts again with every byte and never fires.
    const trickle = () => {
      if (sides.get('stubborn')!.destroyedAt !== undefined || clients.stubborn.destroyed) return;
      clients.stubborn.write('.');
      trickling = c.setTimeout(trickle, GRACE_MS / 4);
    };
    trickle();
    const promise = Promise.resolve(result).then(
      () => {
        resolvedAt = since();
        resolvedPromptly = serverClosedAt !== undefined && promptAfterClose;
        settled = 'resolved';
        changed.notify();
      },
      (err: unknown) => {
        settled = `rejected (${err instanceof Error ? err.message : String(err)})`;
        changed.notify();
        fail(`the promise from shutdown() rejected: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
    promise.catch(() => {});
    // Wrapped, so this step does not wait for the promise.
    return { promise };
  });

  await c.step('waiting for your shutdown() to call server.close()', async (s) => {
    s.timeoutMessage = 'shutdown() never called server.close(): the server still accepts new connections';
    await changed.until(() => {
      if (closeCalled || !server.listening) return true;
      if (settled) fail(`the promise from shutdown() ${settled}, but server.close() was never called: the server still accepts new connections`);
      return false;
    });
  });

  await c.step('checking that nothing is destroyed before graceMs', async () => {
    await changed.until(() => graceOver);
    const early = (['busy', 'idle', 'stubborn'] as const).filter((role) => sides.get(role)!.early);
    if (early.length === 0) return;
    // A cut-off reply: let the busy client read what it will ever get, to show the real count.
    if (sides.get('busy')!.midReply) await busyRx.wait((r) => r.gotEnd || r.gotClose, 'the end of the cut-off reply').catch(() => {});
    const what = early.map((role) => {
      const side = sides.get(role)!;
      // Within the very turn that graceMs ran out (a clock polled with setInterval?), yet before a timer set with it.
      const timing = side.destroyedAt! < GRACE_MS ? `after ${side.destroyedAt!.toFixed(1)} ms` : `after ${side.destroyedAt!.toFixed(1)} ms, but before a setTimeout(…, graceMs) started with shutdown() had fired`;
      const cut =
        role === 'busy' && side.midReply && busyRx.received < REPLY_SIZE
          ? ` (in the middle of its reply: its client got ${formatBytes(busyRx.received)} of ${formatBytes(REPLY_SIZE)}, then a normal FIN, as if the reply were whole — destroy() drops what Node still holds)`
          : '';
      return `${CONNECTIONS[role]} ${timing}${cut}`;
    });
    fail(
      `your shutdown() destroyed connections before graceMs (${GRACE_MS} ms) had passed, while their clients still had them open: ${what.join('; ')}. ` +
        'end() every connection right away (its FIN goes out after the last byte written), and destroy() only what is still open when graceMs have passed',
    );
  });

  await c.step("waiting for the idle client to get your server's FIN", async (s) => {
    const side = sides.get('idle')!;
    if (!side.socket.writableEnded) {
      if (side.destroyedAt !== undefined) {
        fail(`your shutdown() never ended the idle connection: it destroyed it after ${side.destroyedAt.toFixed(1)} ms instead — end() every open connection as soon as shutdown() is called`);
      }
      fail(`${GRACE_MS} ms after shutdown() your server had still not ended the idle connection: shutdown() must end() every open connection right away (close() alone waits for them for ever)`);
    }
    s.timeoutMessage = "your server ended the idle connection, but its FIN never reached the client";
    s.actual = () => `the idle client: ${idleRx.describe()}`;
    await idleRx.untilEnd();
  });

  await c.step('waiting for the busy client to read its whole reply, then the FIN', async (s) => {
    const side = sides.get('busy')!;
    if (!side.socket.writableEnded) {
      fail(`${GRACE_MS} ms after shutdown() your server had still not ended the busy connection: end() it right away too — end() does not cut the reply off, its FIN goes out after the last byte`);
    }
    s.timeoutMessage = 'the busy client did not get its whole reply and a FIN';
    s.expected = `${formatBytes(REPLY_SIZE)}, then a FIN`;
    s.actual = () => `the busy client: ${busyRx.describe()}`;
    await busyRx.wait((r) => r.gotEnd || r.gotClose, 'the FIN');
    // Destroyed by the deadline, on a machine too slow to read it all within graceMs: allowed.
    if (busyRx.received !== REPLY_SIZE && side.destroyedAt === undefined) {
      fail('the busy client got only part of its reply before the FIN', { expected: s.expected, actual: `${formatBytes(busyRx.received)}, then a FIN` });
    }
  });

  await c.step('waiting for your shutdown() to destroy the connection that never closes, after graceMs', async (s) => {
    const side = sides.get('stubborn')!;
    s.timeoutMessage = `the connection that never closes was never destroyed: destroy() what is still open graceMs after shutdown() was called`;
    await changed.until(() => side.destroyedAt !== undefined || lateOver);
    if (trickling) c.clearTimeout(trickling);
    if (side.onIdleTimeout) {
      // On a machine too busy to let the client's bytes in, an idle timeout can fire on time: caught here anyway.
      fail(
        `your shutdown() destroyed the connection that never closes from its 'timeout' event: socket.setTimeout() is an idle timeout, and each byte its client sends starts it again, so a client that keeps talking is never cut off. ` +
          'Use one timer for the deadline: setTimeout(…, graceMs) when shutdown() is called, then destroy() what is still open',
      );
    }
    if (side.destroyedAt === undefined || side.late) {
      const when = side.destroyedAt === undefined ? `was still open ${(since() - GRACE_MS).toFixed(0)} ms` : `was destroyed only ${(side.destroyedAt - GRACE_MS).toFixed(0)} ms`;
      fail(
        `the connection that never closes ${when} after graceMs (${GRACE_MS} ms) had passed: ` +
          'destroy() every connection still open when graceMs have passed — setTimeout(…, graceMs), with the graceMs that shutdown() was given' +
          " (its client still sends a byte now and then: socket.setTimeout() is an idle timeout, and each byte starts it again)",
      );
    }
  });

  await c.step("waiting for the server to emit 'close'", async (s) => {
    s.timeoutMessage = "every connection is closed, but the server never emitted 'close'";
    await changed.until(() => serverClosedAt !== undefined);
  });

  await c.step('waiting for the promise from shutdown() to resolve', async (s) => {
    s.timeoutMessage = "the server has closed, but the promise from shutdown() never resolved: resolve it on the server's 'close' (close(callback) calls back then)";
    await done.promise;
  });

  await c.step("checking that your promise waited for 'close'", () => {
    if (serverClosedAt === undefined || resolvedAt === undefined || resolvedAt < serverClosedAt || (resolvedAt === serverClosedAt && !resolvedPromptly)) {
      c.expectOrder(
        ['your promise resolved', "the server emitted 'close'"],
        ["the server emitted 'close'", 'your promise resolved'],
        "your promise resolved before the server emitted 'close': resolve it when 'close' fires, not right after calling close() or destroy()",
      );
    }
    if (!resolvedPromptly) {
      fail(
        `your promise resolved ${(resolvedAt! - serverClosedAt!).toFixed(1)} ms after the server's 'close', on a later turn of the event loop: resolve on the server's 'close' itself (server.close(callback) calls back then), not on another event and not after a fixed time`,
      );
    }
  });

  await c.step("checking that shutting down one server left another server's connection alone", () => {
    if (bystanderRx.gotEnd || bystanderRx.gotClose || !other.listening) {
      fail(
        "shutting down one server also ended the connection of another server: your gracefulShutdown() keeps the sockets of every server in one place (at the top of your file?) — keep them inside gracefulShutdown(), one set per server",
        { actual: `the client of the other server: ${bystanderRx.describe()}; the other server ${other.listening ? 'still listening' : 'no longer listening'}` },
      );
    }
  });

  await c.step('checking that your graceMs timer is cleared once the server has closed', async (s) => {
    await turns(1);
    const before = activeTimers() - ownTimers;
    s.timeoutMessage = 'shutdown() of the other server, whose one client closes at once, did not resolve';
    s.actual = () => `the client of the other server: ${bystanderRx.describe()}`;
    const result: unknown = shutdownOther(OTHER_GRACE_MS);
    if (!isThenable(result)) fail(`shutdown(graceMs) returned ${show(result)}; expected a promise`);
    await result;
    await turns(1);
    if (activeTimers() - ownTimers > before) {
      fail(
        `the other server has closed, but a timer your shutdown() started is still running (graceMs was ${OTHER_GRACE_MS} ms there): clearTimeout() it once the server has closed, or it keeps the process alive for graceMs`,
      );
    }
  });
});

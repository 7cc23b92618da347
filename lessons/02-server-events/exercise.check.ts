// The check for exercise 02: run it with `npm run check 02`.
import net from 'node:net';
import { HOST, Signal, defineCheck, fail, formatBytes, isThenable, show } from '../shared/check/index.ts';
import type * as Exercise from './exercise.ts';

// Far more than the kernel's socket buffers hold, so part of it is still
// waiting in Node when shutdown() runs: end() delivers it, destroy() drops it.
const REPLY_SIZE = 16 * 1024 * 1024;

export default defineCheck<typeof Exercise>(async (c) => {
  const gracefulShutdown = await c.exported('gracefulShutdown');

  // The server is the check's: the learner's code only shuts it down.
  const server = c.name(net.createServer(), "the check's server");
  const accepted: net.Socket[] = [];
  const changed = new Signal();
  server.on('connection', (socket) => {
    socket.on('error', () => {});
    accepted.push(socket);
    changed.notify();
  });

  const shutdown = await c.step('calling gracefulShutdown(server)', () => {
    const fn: unknown = gracefulShutdown(server);
    if (typeof fn !== 'function') fail(`gracefulShutdown(server) returned ${show(fn)}; expected the function shutdown()`);
    return fn as () => Promise<void>;
  });

  const { idle, busy } = await c.step('opening two connections: an idle one and a busy one', async () => {
    server.listen(0, HOST);
    const { port } = await c.listening(server);
    const idle = await c.connect(port, { name: 'the idle client' });
    const busy = await c.connect(port, { name: 'the busy client' });
    await changed.until(() => accepted.length >= 2);
    for (const socket of accepted) {
      c.name(socket, socket.remotePort === idle.localPort ? 'the server side of the idle connection' : 'the server side of the busy connection');
    }
    // The busy client does not read yet, so most of this reply waits in Node's buffer.
    accepted.find((s) => s.remotePort === busy.localPort)?.write(Buffer.alloc(REPLY_SIZE, 'x'));
    return { idle, busy };
  }, { timeout: 10_000 }); // a large write: slow on a busy machine
  const idleRx = c.record(idle);

  // Watch what shutdown() does: its close() call, the server's 'close', the promise.
  let closeCalled = false;
  const close = server.close;
  server.close = function (this: net.Server, ...args: Parameters<net.Server['close']>) {
    closeCalled = true;
    changed.notify();
    return close.apply(this, args);
  };
  const order: string[] = [];
  const serverClosed = new Promise<void>((resolve) =>
    server.once('close', () => {
      order.push("the server emitted 'close'");
      resolve();
    }),
  );
  let settled: string | undefined;

  const done = await c.step('calling shutdown()', () => {
    const result: unknown = shutdown();
    if (!isThenable(result)) fail(`shutdown() returned ${show(result)}; expected a promise that resolves once the server has closed`);
    const promise = Promise.resolve(result).then(
      () => {
        order.push('your promise resolved');
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

  await c.step("waiting for the idle client to get your server's FIN", async (s) => {
    s.timeoutMessage = "the idle client got no FIN: shutdown() must end() every open connection — close() alone waits for them for ever";
    s.expected = 'a FIN';
    s.actual = () => `the idle client: ${idleRx.describe()}`;
    await idleRx.untilEnd();
  });

  await c.step(
    'waiting for the busy client to read its whole reply, then the FIN',
    async (s) => {
      const busyRx = c.record(busy, { keepBytes: false }); // starts reading now
      s.timeoutMessage = 'the busy client did not get its whole reply and a FIN';
      s.expected = `${formatBytes(REPLY_SIZE)}, then a FIN`;
      s.actual = () => `the busy client: ${busyRx.describe()}`;
      await busyRx.untilEnd();
      if (busyRx.received !== REPLY_SIZE) {
        fail(
          `the busy client got only part of its reply before the FIN: destroy() throws away bytes still waiting to be sent, end() sends them first`,
          { expected: s.expected, actual: `${formatBytes(busyRx.received)}, then a FIN` },
        );
      }
    },
    { timeout: 20_000 },
  );

  await c.step("waiting for the server to emit 'close'", async (s) => {
    s.timeoutMessage = "both connections are closed, but the server never emitted 'close'";
    await serverClosed;
  });

  await c.step('waiting for the promise from shutdown() to resolve', async (s) => {
    s.timeoutMessage = "the server has closed, but the promise from shutdown() never resolved: resolve it on the server's 'close' (close(callback) calls back then)";
    await done.promise;
  });

  await c.step("checking that your promise waited for 'close'", () => {
    c.expectOrder(order, ["the server emitted 'close'", 'your promise resolved'], "your promise resolved before the server emitted 'close': resolve it when 'close' fires, not right after calling close()");
  });
});

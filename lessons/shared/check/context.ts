// The check context: what a check's steps call (c.step, c.exported,
// c.serverFrom, c.listening, c.connect, c.record, c.expectEqual, …).
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { explainConnectError, explainError, explainListenError } from './explain.ts';
import { describeValue, formatAddress, isThenable, show } from './format.ts';
import { writePieces } from './framing.ts';
import { Recorder, type RecordOptions } from './recorder.ts';
import {
  CheckFailure,
  HOST,
  STEP_TIMEOUT,
  SkipStep,
  StepFailed,
  StepTimeout,
  fail,
  type FailureDetails,
  type RunOptions,
  type Step,
  type StepOptions,
  type StepResult,
} from './results.ts';
import type { Tracker } from './tracker.ts';

export class Check<M> {
  /** the learner's module, once loaded */
  module: Record<string, unknown> = {};
  readonly steps: StepResult[] = [];
  readonly #tracker: Tracker;
  readonly #baseline: Map<string, number>;
  readonly #scale: number;
  readonly #onStep?: (step: StepResult) => void;
  readonly #onStepStart?: (name: string, timeout: number) => void;
  /** active harness timers (for open-handle reports) */
  #ownTimers = 0;

  constructor(readonly file: string, tracker: Tracker, baseline: Map<string, number>, options: RunOptions) {
    this.#tracker = tracker;
    this.#baseline = baseline;
    this.#scale = timeoutScale(options);
    this.#onStep = options.onStep;
    this.#onStepStart = options.onStepStart;
  }

  /** Count (+1) or uncount (-1) a timer of the harness, so open-handle reports leave it out. */
  ownTimer(delta: number): void {
    this.#ownTimers += delta;
  }

  readonly #timers = new Set<NodeJS.Timeout>();

  /**
   * A timer of the check's own (not the learner's): left out of what is
   * reported open, and cleared when the check ends if it has not fired.
   */
  setTimeout(fn: () => void, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#ownTimers -= 1;
      fn();
    }, ms);
    this.#timers.add(timer);
    this.#ownTimers += 1;
    return timer;
  }

  clearTimeout(timer: NodeJS.Timeout): void {
    if (this.#timers.delete(timer)) this.#ownTimers -= 1;
    clearTimeout(timer);
  }

  /** Resolves after `ms`, on a timer of the check's own. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /** Clear the check's own timers that have not fired (the harness calls this when the check ends). */
  clearOwnTimers(): void {
    for (const timer of this.#timers) this.clearTimeout(timer);
  }

  /** A timeout in ms, scaled like every step timeout. */
  scaled(ms: number): number {
    return Math.max(1, Math.round(ms * this.#scale));
  }

  /**
   * Run one named step. It fails if `fn` throws (a CheckFailure says why; any
   * other error is reported as the learner's code throwing), if the learner's
   * code throws asynchronously meanwhile, or if it takes longer than its
   * timeout. A failed step ends the check. A skipped step resolves to undefined.
   */
  async step<T>(name: string, fn: (step: Step) => T | Promise<T>, options: StepOptions = {}): Promise<T> {
    const started = performance.now();
    const timeout = this.scaled(options.timeout ?? STEP_TIMEOUT);
    if (options.skip) {
      this.#record({ name, status: 'skipped', ms: 0, message: options.skip });
      return undefined as T;
    }
    this.#onStepStart?.(name, timeout);
    const step: Step = {
      name,
      timeout,
      skip(reason: string): never {
        throw new SkipStep(reason);
      },
    };
    let timer: NodeJS.Timeout | undefined;
    const tracker = this.#tracker;
    try {
      const result = await new Promise<T>((resolve, reject) => {
        if (tracker.pendingAsyncError !== undefined) {
          const err = tracker.pendingAsyncError;
          tracker.pendingAsyncError = undefined;
          reject(err);
          return;
        }
        tracker.onAsyncError = reject;
        this.#ownTimers += 1;
        timer = setTimeout(() => {
          this.#ownTimers -= 1;
          timer = undefined;
          reject(new StepTimeout());
        }, timeout);
        Promise.resolve()
          .then(() => fn(step))
          .then(resolve, reject);
      });
      this.#record({ name, status: 'passed', ms: performance.now() - started });
      return result;
    } catch (err) {
      const ms = performance.now() - started;
      if (err instanceof SkipStep) {
        this.#record({ name, status: 'skipped', ms, message: err.reason });
        return undefined as T;
      }
      let result: StepResult;
      if (err instanceof StepTimeout) {
        // Wait one turn so the timer that just fired no longer counts as open.
        await new Promise((resolve) => setImmediate(resolve));
        result = {
          name,
          status: 'failed',
          ms,
          message: step.timeoutMessage ?? `nothing happened within ${timeout} ms`,
          expected: step.expected,
          actual: safeCall(step.actual),
          timedOutAfter: timeout,
          open: tracker.openReport(this.#baseline, this.#ownTimers),
        };
      } else {
        result = { name, status: 'failed', ms, ...explainError(err, this.file) };
      }
      this.#record(result);
      throw new StepFailed(result);
    } finally {
      if (timer) {
        clearTimeout(timer);
        this.#ownTimers -= 1;
      }
      tracker.onAsyncError = undefined;
    }
  }

  #record(result: StepResult): void {
    this.steps.push(result);
    this.#onStep?.(result);
  }

  /** Fail the current step. */
  fail(message: string, details?: FailureDetails): never {
    throw new CheckFailure(message, details);
  }

  /** Step "finding the export NAME": the learner's export, checked to be of the given kind. */
  exported<K extends keyof M & string>(name: K, kind: 'function' | 'string' | 'number' | 'object' = 'function'): Promise<M[K]> {
    return this.step(`finding the export ${name}`, () => {
      const value = this.module[name];
      if (value === undefined) {
        const names = Object.keys(this.module).filter((n) => n !== 'default');
        fail(
          `your file has no export named ${name} (${names.length > 0 ? `it exports: ${names.join(', ')}` : 'it exports nothing'})` +
            ` — keep the line \`export ${kind === 'function' ? 'function' : 'const'} ${name}\` from the starting file`,
        );
      }
      if (typeof value !== kind) fail(`the export ${name} is a ${typeof value}; expected a ${kind}`);
      return value as M[K];
    });
  }

  /** The net.Server that a learner's function returned (awaited if it is a promise), or a failure saying what came back. */
  async serverFrom(value: unknown, what: string): Promise<net.Server> {
    const server = isThenable(value) ? await value : value;
    if (!(server instanceof net.Server)) {
      fail(`${what} returned ${describeValue(server)}; expected the net.Server it created — end it with \`return server;\``);
    }
    this.#tracker.servers.add(server);
    if (!this.#tracker.names.has(server)) this.#tracker.name(server, 'your server');
    return server;
  }

  /**
   * The client socket bound to `localPort` (what the check's server sees as its remotePort):
   * the learner's, as a rule. Every socket connect() was called on is known, however it was made.
   */
  clientAt(localPort: number | undefined): net.Socket | undefined {
    return localPort === undefined ? undefined : this.#tracker.connected.findLast((s) => s.localPort === localPort);
  }

  /** Give a server or socket a name for reports ("the idle client"). */
  name<T extends object>(thing: T, name: string): T {
    this.#tracker.name(thing, name);
    if (thing instanceof net.Server) this.#tracker.servers.add(thing);
    return thing;
  }

  /**
   * Wait for `server` to listen and return its address. Fails fast, with the
   * cause, if listen() was never called or failed (port in use, bad host).
   */
  async listening(server: net.Server, step?: Step): Promise<net.AddressInfo> {
    const tracker = this.#tracker;
    if (step) step.timeoutMessage = "your server called listen() but never emitted 'listening'";
    if (!server.listening) {
      await new Promise<void>((resolve, reject) => {
        const onListening = () => {
          server.off('error', onError);
          resolve();
        };
        const onError = (err: NodeJS.ErrnoException & { address?: string; port?: number }) => {
          server.off('listening', onListening);
          reject(explainListenError(err));
        };
        server.once('listening', onListening);
        server.once('error', onError);
        // listen() belongs before `return server`: if it was not called by now (or on the
        // next turns of the event loop), waiting longer would only hide the cause.
        setImmediate(() =>
          setImmediate(() => {
            if (!server.listening && !tracker.listenCalls.has(server)) {
              server.off('listening', onListening);
              server.off('error', onError);
              reject(new CheckFailure(`your server is not listening: listen() was never called on it — call server.listen(0, '${HOST}') before returning it`));
            }
          }),
        );
      });
    }
    const address = server.address();
    if (address === null || typeof address === 'string') {
      fail(`your server listens on a pipe (${String(address)}), not a TCP port — call server.listen(0, '${HOST}')`);
    }
    return address;
  }

  /**
   * Fail unless `server` listens on 127.0.0.1 on a port the OS chose (listen
   * asked for port 0): names the wrong host or port as the cause.
   */
  expectLoopbackPort0(server: net.Server): net.AddressInfo {
    const address = server.address();
    if (address === null || typeof address === 'string') return fail('your server is not listening on a TCP port');
    const where = formatAddress(address);
    if (address.address !== HOST) {
      const why =
        address.address === '0.0.0.0' || address.address === '::'
          ? 'every network interface: other machines could connect, and a firewall may ask'
          : address.address === '::1'
            ? 'the IPv6 loopback, where a client of 127.0.0.1 finds nothing'
            : 'an address other than the loopback';
      fail(`your server listens on ${where} (${why}); expected ${HOST} — pass the host to listen(): server.listen(0, '${HOST}')`, {
        expected: `${HOST}:<any port>`,
        actual: where,
      });
    }
    const asked = this.#tracker.listenCalls.get(server);
    if (asked?.port !== undefined && asked.port !== 0) {
      fail(
        `your server asked for port ${asked.port}; expected port 0, which lets the OS pick a free port (a fixed port can already be taken) — read the real one with server.address()`,
        { expected: 'listen(0, …)', actual: `listen(${asked.port}, …)` },
      );
    }
    // A name like 'localhost' can look right here and not elsewhere.
    if (asked?.host !== undefined && net.isIP(asked.host) === 0) {
      fail(
        `your server asked to listen on ${show(asked.host)}, a name: here it resolved to ${address.address}, but on other machines it can resolve to ::1 (IPv6), where clients of 127.0.0.1 find nothing — pass the address itself: server.listen(0, '${HOST}')`,
        { expected: `listen(0, '${HOST}')`, actual: `listen(…, ${show(asked.host)})` },
      );
    }
    return address;
  }

  /**
   * Connect to 127.0.0.1:port. The socket gets an 'error' listener (errors are
   * recorded, never thrown), is destroyed when the check ends, and a refused
   * or reset connection becomes a failure that says what it means.
   */
  async connect(port: number, options: { name?: string; host?: string; noDelay?: boolean; allowHalfOpen?: boolean } = {}): Promise<net.Socket> {
    const host = options.host ?? HOST;
    const socket = net.connect({ port, host, noDelay: options.noDelay, allowHalfOpen: options.allowHalfOpen });
    this.#tracker.name(socket, options.name ?? "the check's client");
    socket.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      const onConnect = () => {
        socket.off('error', onError);
        resolve();
      };
      const onError = (err: NodeJS.ErrnoException) => {
        socket.off('connect', onConnect);
        reject(explainConnectError(err, host, port));
      };
      socket.once('connect', onConnect);
      socket.once('error', onError);
    });
    return socket;
  }

  /**
   * Send `pieces` through a real socket, for a check of a decoder: the check's
   * server writes them one per turn of the event loop and ends; the check's
   * client hands every chunk it reads to `onChunk`. Resolves after the FIN with
   * the number of chunks read. TCP merges and splits the pieces as it likes:
   * assert only on what `onChunk` reassembled. `progress()` says how far the
   * decoder got, for a timeout.
   */
  async throughSocket(step: Step, pieces: readonly Buffer[], onChunk: (chunk: Buffer) => void, progress: () => string): Promise<number> {
    const server = this.name(net.createServer(), "the check's server");
    server.on('connection', (socket) => {
      socket.on('error', () => {});
      writePieces(socket, pieces).then(() => socket.end(), () => {});
    });
    server.listen(0, HOST);
    const { port } = await this.listening(server);
    const client = await this.connect(port, { name: "the check's client, feeding your code" });
    let chunks = 0;
    let received = 0;
    const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
    step.timeoutMessage = "the check's server did not finish sending in time";
    step.expected = `${total} B, then a FIN`;
    step.actual = () => `${received} B in ${chunks} chunks, ${progress()}, ${client.readableEnded ? 'then a FIN' : 'no FIN'}`;
    client.on('data', (chunk: Buffer) => {
      chunks += 1;
      received += chunk.length;
      onChunk(chunk);
    });
    // onChunk may throw (the learner's code): the step fails with it through the harness.
    await new Promise<void>((resolve) => client.once('end', () => resolve()));
    return chunks;
  }

  /**
   * Record what arrives on a socket (this makes it flow). `keepBytes: false`
   * only counts bytes; `maxBytes` is the most the check needs (see RecordOptions).
   */
  record(socket: net.Socket, options: RecordOptions = {}): Recorder {
    return new Recorder(socket, options);
  }

  /** Fail unless `actual` equals `expected`, showing both (texts, buffers, numbers, lists). */
  expectEqual<T>(actual: T, expected: T, message: string): void {
    if (same(actual, expected)) return;
    fail(message, { expected: show(expected), actual: show(actual) });
  }

  /** Fail unless the events happened in this order. */
  expectOrder(actual: readonly string[], expected: readonly string[], message: string): void {
    if (same(actual, expected)) return;
    fail(message, { expected: expected.join(' → ') || '(nothing)', actual: actual.join(' → ') || '(nothing)' });
  }
}

function same(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  return Object.is(a, b);
}

function timeoutScale(options: RunOptions): number {
  const fromEnv = Number(process.env.WORKBOOK_CHECK_TIMEOUT_SCALE);
  const scale = options.timeoutScale ?? (Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : 1);
  return scale;
}

function safeCall(fn?: () => string): string | undefined {
  try {
    return fn?.();
  } catch {
    return undefined;
  }
}


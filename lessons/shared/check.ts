// The exercise check harness. An exercise's `exercise.check.ts` is a list of
// named steps, each with its own timeout, run against the learner's file:
//
//   export default defineCheck<typeof Exercise>(async (c) => {
//     const start = await c.exported('startGreeter');
//     const server = await c.step('calling startGreeter()', () => c.serverFrom(start(), 'startGreeter()'));
//     …
//   });
//
// A step passes, fails (with expected vs actual) or is skipped with a reason.
// The first failure ends the check. A step that runs out of time reports what
// was still open. Whatever the learner's code opened (servers, sockets) is
// closed when the check ends, so a check process always exits on its own.
import dc from 'node:diagnostics_channel';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

export const HOST = '127.0.0.1';
/** Default time a step may take. Loopback events take milliseconds; this is for slow, busy machines. */
export const STEP_TIMEOUT = 2000;
/** Loading compiles the learner's file: the first compile on a slow machine can take seconds. */
export const LOAD_TIMEOUT = 20_000;
/** The whole check is stopped after this long, whatever happens (a backstop). */
export const CHECK_DEADLINE = 60_000;

// ── failures ──────────────────────────────────────────────────────────────

export interface FailureDetails {
  /** what the check wanted, e.g. a quoted text or an event order */
  expected?: string;
  /** what it got */
  actual?: string;
}

/** Thrown by a check to fail the current step with a message the learner can act on. */
export class CheckFailure extends Error {
  override name = 'CheckFailure';
  readonly expected?: string;
  readonly actual?: string;
  constructor(message: string, details: FailureDetails = {}) {
    super(message);
    this.expected = details.expected;
    this.actual = details.actual;
  }
}

/** Fail the current step. */
export function fail(message: string, details?: FailureDetails): never {
  throw new CheckFailure(message, details);
}

class SkipStep extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

class StepTimeout extends Error {}

/** Internal: a step failed and the check stops. */
class StepFailed extends Error {
  constructor(readonly result: StepResult) {
    super(result.message);
  }
}

// ── results ───────────────────────────────────────────────────────────────

export interface StepResult {
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  ms: number;
  /** why it failed, or why it was skipped */
  message?: string;
  expected?: string;
  actual?: string;
  /** set when the step ran out of time */
  timedOutAfter?: number;
  /** what was still open when the step timed out */
  open?: string[];
}

export interface CheckResult {
  ok: boolean;
  file: string;
  steps: StepResult[];
  /** the step that failed, if any */
  failed?: StepResult;
  /** handles the learner's code left behind that the harness could not close (e.g. timers) */
  leftOpen: string[];
}

export interface RunOptions {
  /** multiply every step timeout (also read from WORKBOOK_CHECK_TIMEOUT_SCALE) */
  timeoutScale?: number;
  /** called as each step ends, for live output */
  onStep?: (step: StepResult) => void;
  /** overall backstop in ms (default CHECK_DEADLINE, scaled) */
  deadline?: number;
}

// ── steps ─────────────────────────────────────────────────────────────────

/** Handed to every step function. Set `expected`/`actual` so a timeout can say what was missing. */
export interface Step {
  readonly name: string;
  /** the step's timeout in ms (already scaled) */
  readonly timeout: number;
  /** what the step waits for; shown when it times out */
  expected?: string;
  /** what has happened so far; called and shown when it times out */
  actual?: () => string;
  /** the first line shown when it times out (default: "nothing happened within N ms") */
  timeoutMessage?: string;
  /** end this step as skipped (e.g. the platform does not show the effect); the check goes on */
  skip(reason: string): never;
}

export interface StepOptions {
  /** ms before the step fails (default STEP_TIMEOUT) */
  timeout?: number;
  /** skip the step without running it, with this reason */
  skip?: string | false;
}

export interface CheckDefinition<M> {
  readonly run: (c: Check<M>) => Promise<void>;
}

/** Declare a check. `M` is the exercise module's type: `import type * as Exercise from './exercise.ts'`. */
export function defineCheck<M = Record<string, unknown>>(run: (c: Check<M>) => Promise<void>): CheckDefinition<M> {
  return { run };
}

// ── tracking what the learner's code opens ────────────────────────────────

interface ListenRequest {
  port?: number;
  host?: string;
  path?: string;
}

class Tracker {
  readonly servers = new Set<net.Server>();
  readonly listenCalls = new Map<net.Server, ListenRequest>();
  readonly sockets = new Set<net.Socket>();
  readonly names = new WeakMap<object, string>();
  /** errors thrown asynchronously by the learner's code (or unhandled 'error' events) */
  onAsyncError?: (err: unknown) => void;
  pendingAsyncError?: unknown;
  #originalListen = net.Server.prototype.listen;
  #onClientSocket = (message: unknown) => this.#addSocket((message as { socket: net.Socket }).socket);
  #onServerSocket = (message: unknown) => this.#addSocket((message as { socket: net.Socket }).socket);
  #onRejection = (err: unknown) => this.#asyncError(err);

  install(): void {
    const tracker = this;
    const original = this.#originalListen;
    net.Server.prototype.listen = function listen(this: net.Server, ...args: unknown[]) {
      tracker.servers.add(this);
      tracker.listenCalls.set(this, parseListenArgs(args));
      return (original as (...a: unknown[]) => net.Server).apply(this, args);
    } as typeof original;
    dc.subscribe('net.client.socket', this.#onClientSocket);
    dc.subscribe('net.server.socket', this.#onServerSocket);
    process.setUncaughtExceptionCaptureCallback((err) => this.#asyncError(err));
    process.on('unhandledRejection', this.#onRejection);
  }

  uninstall(): void {
    net.Server.prototype.listen = this.#originalListen;
    dc.unsubscribe('net.client.socket', this.#onClientSocket);
    dc.unsubscribe('net.server.socket', this.#onServerSocket);
    process.setUncaughtExceptionCaptureCallback(null);
    process.off('unhandledRejection', this.#onRejection);
  }

  #addSocket(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  #asyncError(err: unknown): void {
    if (this.onAsyncError) this.onAsyncError(err);
    else this.pendingAsyncError ??= err;
  }

  name(thing: object, name: string): void {
    this.names.set(thing, name);
  }

  /** Close every server and destroy every socket opened during the check, and wait until they are closed. */
  async cleanup(): Promise<void> {
    const closing: Promise<unknown>[] = [];
    for (const socket of this.sockets) {
      // Resets caused by our own destroy() must not count as the learner's errors.
      socket.on('error', () => {});
      if (!socket.destroyed) closing.push(new Promise((resolve) => socket.once('close', resolve)));
      socket.destroy();
    }
    for (const server of this.servers) {
      server.on('error', () => {});
      if (server.listening) closing.push(new Promise((resolve) => server.close(resolve)));
    }
    // Closing is immediate on loopback; the bound only protects against the unexpected.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(closing), new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
    clearTimeout(timer);
  }

  /** Wait a few turns of the event loop for closed handles to leave the active list. */
  async settle(baseline: Map<string, number>): Promise<void> {
    for (let turn = 0; turn < 20; turn += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      if (!resourceDiff(baseline, 0).some((r) => r.startsWith('TCP') || r.startsWith('Pipe'))) return;
    }
  }

  /** Plain-words list of what is open right now, for a timed-out step. */
  openReport(baseline: Map<string, number>, ownTimers: number): string[] {
    const lines: string[] = [];
    for (const server of this.servers) {
      const name = this.names.get(server) ?? 'your server';
      const accepted = [...this.sockets].filter((s) => (s as net.Socket & { server?: net.Server }).server === server && !s.destroyed);
      if (server.listening) {
        lines.push(`${name}, listening on ${formatAddress(server.address())}, ${plural(accepted.length, 'open connection')}`);
      } else if (accepted.length > 0) {
        lines.push(`${name}, no longer listening (close() was called) but still holding ${plural(accepted.length, 'open connection')}: its 'close' waits for them`);
      }
    }
    for (const socket of this.sockets) {
      if (socket.destroyed) continue;
      lines.push(describeSocket(socket, this.names.get(socket)));
    }
    const handles = resourceDiff(baseline, ownTimers);
    if (handles.length > 0) lines.push(`handles: ${handles.join(', ')}`);
    return lines;
  }
}

function describeSocket(socket: net.Socket, name?: string): string {
  const accepted = (socket as net.Socket & { server?: net.Server | null }).server != null; // client sockets have server = null
  const label = name ?? (accepted ? `a connection your server accepted (client port ${socket.remotePort})` : `a client socket to port ${socket.remotePort}`);
  const state = [
    socket.writableEnded ? 'end() called' : 'end() not called',
    socket.readableEnded ? "got the peer's FIN" : "no FIN from the peer yet",
    `${socket.bytesRead} B read`,
    `${socket.bytesWritten} B passed to write()`,
  ];
  return `${label}: ${state.join(', ')}`;
}

function parseListenArgs(args: unknown[]): ListenRequest {
  const [first, second] = args;
  if (first !== null && typeof first === 'object') {
    const options = first as { port?: unknown; host?: unknown; path?: unknown };
    if (typeof options.path === 'string') return { path: options.path };
    return { port: Number(options.port ?? 0), host: typeof options.host === 'string' ? options.host : undefined };
  }
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    return { port: Number(first), host: typeof second === 'string' ? second : undefined };
  }
  if (typeof first === 'string') return { path: first };
  return { port: 0 };
}

/** Counts of active handles by type, e.g. { TCPSocketWrap: 2, Timeout: 1 }. */
function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** Handles open now that were not open at `baseline`, minus the harness's own timers. */
function resourceDiff(baseline: Map<string, number>, ownTimers: number): string[] {
  const out: string[] = [];
  for (const [type, count] of resourceCounts()) {
    const extra = count - (baseline.get(type) ?? 0) - (type === 'Timeout' ? ownTimers : 0);
    if (extra > 0) out.push(`${type} ×${extra}`);
  }
  return out;
}

// ── the check context ─────────────────────────────────────────────────────

let running = false;
let loads = 0;

export class Check<M> {
  /** the learner's module, once loaded */
  module: Record<string, unknown> = {};
  readonly steps: StepResult[] = [];
  readonly #tracker: Tracker;
  readonly #baseline: Map<string, number>;
  readonly #scale: number;
  readonly #onStep?: (step: StepResult) => void;
  /** active harness timers (for open-handle reports) */
  #ownTimers = 0;

  constructor(readonly file: string, tracker: Tracker, baseline: Map<string, number>, options: RunOptions) {
    this.#tracker = tracker;
    this.#baseline = baseline;
    this.#scale = timeoutScale(options);
    this.#onStep = options.onStep;
  }

  /** Count (+1) or uncount (-1) a timer of the harness, so open-handle reports leave it out. */
  ownTimer(delta: number): void {
    this.#ownTimers += delta;
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

  /** Record what arrives on a socket (this makes it flow). `keepBytes: false` only counts bytes. */
  record(socket: net.Socket, options: { keepBytes?: boolean } = {}): Recorder {
    return new Recorder(socket, options.keepBytes ?? true);
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

// ── recording a peer ──────────────────────────────────────────────────────

/** What one socket received: bytes, FIN, close and error, in order. */
export class Recorder {
  /** event names in the order they happened: data, end, close, error:CODE */
  readonly events: string[] = [];
  received = 0;
  gotEnd = false;
  gotClose = false;
  error?: NodeJS.ErrnoException;
  readonly #chunks: Buffer[] = [];
  readonly #keep: boolean;
  readonly #waiters = new Set<() => void>();

  constructor(readonly socket: net.Socket, keepBytes: boolean) {
    this.#keep = keepBytes;
    socket.on('data', (chunk: Buffer | string) => {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      this.received += buf.length;
      if (this.#keep) this.#chunks.push(buf);
      if (this.events.at(-1) !== 'data') this.events.push('data');
      this.#changed();
    });
    socket.on('end', () => {
      this.gotEnd = true;
      this.events.push('end');
      this.#changed();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error = err;
      this.events.push(`error:${err.code ?? err.message}`);
      this.#changed();
    });
    socket.on('close', () => {
      this.gotClose = true;
      this.events.push('close');
      this.#changed();
    });
  }

  get bytes(): Buffer {
    return Buffer.concat(this.#chunks);
  }

  get text(): string {
    return this.bytes.toString('utf8');
  }

  #changed(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /**
   * Resolve when `done(this)` is true (checked now and after every event).
   * Fails at once if the connection closes first, instead of waiting for a timeout.
   */
  wait(done: (r: Recorder) => boolean, what = 'the expected bytes'): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (done(this)) {
          this.#waiters.delete(check);
          resolve();
        } else if (this.gotClose) {
          this.#waiters.delete(check);
          reject(new CheckFailure(`the connection closed before ${what} arrived`, { actual: this.describe() }));
        }
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Wait until the text received so far makes `done` true. */
  untilText(done: (text: string) => boolean, what?: string): Promise<void> {
    return this.wait((r) => done(r.text), what);
  }

  /** Wait for the peer's FIN ('end'). */
  untilEnd(): Promise<void> {
    return this.wait((r) => r.gotEnd, "the peer's FIN");
  }

  /** One line: bytes received (quoted when kept), FIN or not, error. */
  describe(): string {
    const parts = [this.received === 0 ? 'nothing received (0 B)' : this.#keep ? `received ${show(this.bytes)}` : `received ${formatBytes(this.received)}`];
    parts.push(this.gotEnd ? 'then a FIN' : 'no FIN');
    if (this.error) parts.push(`error ${this.error.code ?? this.error.message}`);
    if (this.gotClose && !this.gotEnd && !this.error) parts.push('closed');
    return parts.join(', ');
  }
}

/**
 * Wait for a condition that your own listeners make true: call notify() from
 * them (e.g. in a 'connection' listener) and `until()` re-checks.
 */
export class Signal {
  readonly #waiters = new Set<() => void>();

  notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Resolve when `done()` returns true; reject if it throws (e.g. fail(...)). Checked now and on every notify(). */
  until(done: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        try {
          if (!done()) return;
          this.#waiters.delete(check);
          resolve();
        } catch (err) {
          this.#waiters.delete(check);
          reject(err);
        }
      };
      this.#waiters.add(check);
      check();
    });
  }
}

// ── explaining errors ─────────────────────────────────────────────────────

function explainError(err: unknown, file: string): Pick<StepResult, 'message' | 'expected' | 'actual'> {
  if (err instanceof CheckFailure) return { message: err.message, expected: err.expected, actual: err.actual };
  if (err instanceof AggregateError && err.errors.length > 0) return explainError(err.errors[0], file);
  if (err instanceof Error) {
    const where = locate(err, file);
    const code = (err as NodeJS.ErrnoException).code;
    const syscall = (err as NodeJS.ErrnoException).syscall;
    if (!where && syscall) {
      return {
        message: `an 'error' event nobody listened for: ${err.message} — give every socket and server an 'error' listener`,
      };
    }
    const what = `${err.name}${code && !err.message.includes(code) ? ` [${code}]` : ''}: ${firstLine(err.message)}`;
    return { message: where ? `your code threw ${what} (at ${where})` : `unexpected error: ${what}` };
  }
  return { message: `your code threw a non-error value: ${describeValue(err)}` };
}

/** `exercise.ts:12:5` from the first stack frame inside the learner's file. */
function locate(err: Error, file: string): string | undefined {
  const url = pathToFileURL(file).href;
  for (const line of (err.stack ?? '').split('\n').slice(1)) {
    const at = line.includes(url) ? line.slice(line.indexOf(url) + url.length) : line.includes(file) ? line.slice(line.indexOf(file) + file.length) : undefined;
    if (at === undefined) continue;
    const pos = /^(?:\?[^:]*)?:(\d+):(\d+)/.exec(at);
    return `${path.basename(file)}${pos ? `:${pos[1]}:${pos[2]}` : ''}`;
  }
  return undefined;
}

/** One line for a file that cannot be imported: compile error, throw at load time, or missing. */
export function explainImportError(err: unknown, file: string): string {
  const e = err as NodeJS.ErrnoException;
  const name = path.basename(file);
  if (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'ENOENT') {
    const missing = /Cannot find (?:module|package) '([^']+)'/.exec(e.message)?.[1];
    if (!missing || missing === file || missing === pathToFileURL(file).href) return `there is no file at ${file}`;
    return `${name} imports ${missing}, which cannot be found`;
  }
  const message = e instanceof Error ? e.message : String(err);
  // esbuild (through tsx): "Transform failed with 1 error:\n/path/file.ts:2:0: ERROR: Expected …"
  const compile = /([^\s:]+\.[cm]?[jt]sx?):(\d+):(\d+): ERROR: (.*)/.exec(message);
  if (compile) return `${name} does not compile: line ${compile[2]}, column ${Number(compile[3]) + 1}: ${compile[4]}`;
  if (e instanceof SyntaxError) return `${name} has a syntax error: ${firstLine(message)}`;
  if (e instanceof Error) {
    const where = locate(e, file);
    return `${name} threw while loading: ${e.name}: ${firstLine(message)}${where ? ` (at ${where})` : ''}`;
  }
  return `${name} could not be loaded: ${firstLine(message)}`;
}

function explainListenError(err: NodeJS.ErrnoException & { address?: string; port?: number }): CheckFailure {
  switch (err.code) {
    case 'EADDRINUSE':
      return new CheckFailure(`your server could not listen: port ${err.port} is already in use — use port 0 so the OS picks a free one`);
    case 'EACCES':
      return new CheckFailure(`your server was not allowed to listen on port ${err.port} — use port 0`);
    case 'EADDRNOTAVAIL':
      return new CheckFailure(`your server could not listen: ${err.address} is not an address of this machine — use '${HOST}'`);
    default:
      return new CheckFailure(`your server could not listen: ${err.message}`);
  }
}

function explainConnectError(err: NodeJS.ErrnoException, host: string, port: number): CheckFailure {
  const cause = err instanceof AggregateError ? ((err.errors[0] as NodeJS.ErrnoException) ?? err) : err;
  switch (cause.code) {
    case 'ECONNREFUSED':
      return new CheckFailure(
        `nothing is listening on ${host}:${port} — did your server call listen()? Is it still open (did something call close())?`,
      );
    case 'ECONNRESET':
      return new CheckFailure(`the connection to ${host}:${port} was reset (RST) as it opened — is your server destroying new sockets?`);
    default:
      return new CheckFailure(`could not connect to ${host}:${port}: ${cause.message}`);
  }
}

// ── formatting ────────────────────────────────────────────────────────────

function firstLine(text: string): string {
  return text.split('\n')[0];
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';
}

export function formatAddress(address: string | net.AddressInfo | null): string {
  if (address === null) return '(not listening)';
  if (typeof address === 'string') return address;
  return address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB (${n} B)`;
  if (n >= 1024) return `${(n / 1024).toFixed(n % 1024 === 0 ? 0 : 1)} KiB (${n} B)`;
  return `${n} B`;
}

/** A value as the learner would write it: texts quoted with \n visible, long ones cut. */
export function show(value: unknown, max = 120): string {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    const buf = Buffer.from(value);
    const text = buf.toString('utf8');
    if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/.test(text)) {
      const hex = buf.subarray(0, 32).toString('hex').replace(/(..)/g, '$1 ').trim();
      return `<${buf.length} B: ${hex}${buf.length > 32 ? ' …' : ''}>`;
    }
    return `${show(text, max)} (${buf.length} B)`;
  }
  if (typeof value === 'string') {
    const quoted = JSON.stringify(value);
    return quoted.length > max ? `${quoted.slice(0, max - 1)}…" (${value.length} characters)` : quoted;
  }
  if (Array.isArray(value)) return `[${value.map((v) => show(v, 40)).join(', ')}]`;
  return describeValue(value);
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'function') return `a function (${value.name || 'anonymous'})`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value !== 'object') return String(value);
  const name = (value as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}

// ── framing and timing helpers (for decoders, echo servers, Nagle) ───────

export interface Chunking {
  /** how the bytes were cut, e.g. "1-byte pieces" or "random split (seed 3)" */
  name: string;
  pieces: Buffer[];
}

/** A small seeded random number generator (mulberry32): the same seed gives the same splits. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cut `bytes` into pieces of 1 to `maxPiece` bytes at random places. */
export function splitRandomly(bytes: Buffer, random: () => number, maxPiece = 7): Buffer[] {
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; ) {
    const size = 1 + Math.floor(random() * maxPiece);
    pieces.push(bytes.subarray(i, i + size));
    i += size;
  }
  return pieces;
}

/**
 * The same messages cut every way TCP may deliver them: one piece per message,
 * all merged into one piece, 1-byte pieces (which split every multi-byte UTF-8
 * character) and `randomSplits` seeded random splits. A framing check feeds
 * each chunking and asserts only the reassembled messages.
 */
export function chunkings(messages: readonly (string | Uint8Array)[], options: { randomSplits?: number; seed?: number } = {}): Chunking[] {
  const parts = messages.map((m) => (typeof m === 'string' ? Buffer.from(m) : Buffer.from(m)));
  const all = Buffer.concat(parts);
  const out: Chunking[] = [
    { name: 'one piece per message', pieces: parts },
    { name: 'all messages merged into one piece', pieces: [all] },
    { name: '1-byte pieces', pieces: [...all].map((b) => Buffer.from([b])) },
  ];
  const seed = options.seed ?? 1;
  for (let i = 0; i < (options.randomSplits ?? 3); i += 1) {
    out.push({ name: `random split (seed ${seed + i})`, pieces: splitRandomly(all, seededRandom(seed + i)) });
  }
  return out;
}

/**
 * Write pieces one at a time, each after the previous was handed to the
 * kernel, with Nagle off, so they tend to arrive separately. TCP still may
 * merge them: assert only what the receiver reassembles.
 */
export async function writePieces(socket: net.Socket, pieces: readonly Buffer[]): Promise<void> {
  socket.setNoDelay(true);
  for (const piece of pieces) {
    await new Promise<void>((resolve, reject) => socket.write(piece, (err) => (err ? reject(err) : resolve())));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Run `fn` `rounds` times and return each duration in ms. */
export async function timeRounds(rounds: number, fn: (round: number) => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < rounds; i += 1) {
    const start = performance.now();
    await fn(i);
    times.push(performance.now() - start);
  }
  return times;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// ── running a check ───────────────────────────────────────────────────────

/**
 * Run `definition` against the learner's `file`. Never throws: every problem
 * becomes a failed step. Everything opened meanwhile is closed before it
 * returns. Not re-entrant: run one check at a time per process.
 */
export async function runCheck(
  // A check for any exercise module: the module's type only matters inside the check.
  definition: CheckDefinition<any>,
  file: string,
  options: RunOptions = {},
): Promise<CheckResult> {
  if (running) throw new Error('runCheck: a check is already running in this process');
  running = true;
  const baseline = resourceCounts();
  const tracker = new Tracker();
  const check = new Check<unknown>(file, tracker, baseline, options);
  tracker.install();
  let deadline: NodeJS.Timeout | undefined;
  try {
    const body = (async () => {
      await check.step('loading your file', async (s) => {
        s.timeoutMessage = 'your file took too long to load: does it wait for something at its top level?';
        try {
          // A new query each time: a file checked again in the same process is loaded afresh.
          loads += 1;
          check.module = (await import(`${pathToFileURL(file).href}?check=${loads}`)) as Record<string, unknown>;
        } catch (err) {
          fail(explainImportError(err, file));
        }
        // A file compiled as CommonJS shows its exports under `default`.
        const fallback = check.module.default;
        if (fallback && typeof fallback === 'object') check.module = { ...(fallback as Record<string, unknown>), ...check.module };
      }, { timeout: LOAD_TIMEOUT });
      await definition.run(check);
    })();
    const limit = check.scaled(options.deadline ?? CHECK_DEADLINE);
    const overtime = new Promise<never>((_, reject) => {
      deadline = setTimeout(() => reject(new CheckFailure(`the check did not finish within ${limit} ms (a step waited outside its own timeout)`)), limit);
    });
    check.ownTimer(1);
    body.catch(() => {});
    await Promise.race([body, overtime]);
  } catch (err) {
    if (!(err instanceof StepFailed)) {
      const result: StepResult = { name: 'running the check', status: 'failed', ms: 0, ...explainError(err, file) };
      check.steps.push(result);
      options.onStep?.(result);
    }
  } finally {
    clearTimeout(deadline);
    await tracker.cleanup();
    await tracker.settle(baseline);
    tracker.uninstall();
    running = false;
  }
  const failed = check.steps.find((s) => s.status === 'failed');
  return { ok: failed === undefined, file, steps: check.steps, failed, leftOpen: resourceDiff(baseline, 0) };
}

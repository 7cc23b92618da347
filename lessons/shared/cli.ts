// Flags, listening and `--serve` mode shared by every lesson script.
import net from 'node:net';
import { parseArgs } from 'node:util';

/** A mistake in how the learner called us: one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Something the learner can fix (a port in use, a bad host): one line, exit code 1. */
export class LessonError extends Error {
  override name = 'LessonError';
}

export interface LessonOptions {
  /** keep the server up for nc/telnet/socat instead of running the demo */
  serve: boolean;
  port: number;
  host: string;
  /** lesson-specific flags, as declared in the lesson's `flags` export */
  extra: Record<string, string | boolean | undefined>;
}

/** A lesson-specific flag, e.g. `{ rounds: { type: 'string', hint: '<n>', help: 'rounds to run' } }` */
export interface FlagSpec {
  type: 'string' | 'boolean';
  hint?: string;
  help: string;
}

export const DEFAULT_HOST = '127.0.0.1';

const COMMON_FLAGS: Record<string, FlagSpec> = {
  serve: { type: 'boolean', help: 'keep the server running for nc, telnet or socat (Ctrl-C stops it)' },
  port: { type: 'string', hint: '<n>', help: 'port to listen on (default 0: any free port)' },
  host: { type: 'string', hint: '<addr>', help: `address to bind (default ${DEFAULT_HOST})` },
  help: { type: 'boolean', help: 'show these flags' },
};

export function flagList(extra: Record<string, FlagSpec> = {}): string[] {
  return Object.entries({ ...COMMON_FLAGS, ...extra }).map(([name, spec]) =>
    `--${name}${spec.hint ? ` ${spec.hint}` : ''}`,
  );
}

export function usage(extra: Record<string, FlagSpec> = {}): string {
  return Object.entries({ ...COMMON_FLAGS, ...extra })
    .map(([name, spec]) => `  ${`--${name}${spec.hint ? ` ${spec.hint}` : ''}`.padEnd(18)} ${spec.help}`)
    .join('\n');
}

/** Parse a lesson's argv. Returns null when `--help` was asked for. */
export function parseLessonArgs(argv: string[], extra: Record<string, FlagSpec> = {}): LessonOptions | null {
  const specs = { ...COMMON_FLAGS, ...extra };
  const options = Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, { type: spec.type }]));
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(`${flagProblem(err as Error)}. Valid flags: ${flagList(extra).join(', ')}`);
  }
  if (values.help) return null;
  const { serve, port, host, help: _help, ...rest } = values;
  return {
    serve: serve === true,
    port: parsePort(port),
    host: parseHost(host),
    extra: rest,
  };
}

function flagProblem(err: Error): string {
  const unknown = /Unknown option '([^']+)'/.exec(err.message);
  if (unknown) return `unknown flag ${unknown[1]}`;
  const missing = /Option '([^']+?)(?: <value>)?' argument missing/.exec(err.message);
  if (missing) return `flag ${missing[1].split(',').pop()!.trim()} needs a value`;
  const positional = /Unexpected argument '([^']+)'/.exec(err.message);
  if (positional) return `unexpected argument ${positional[1]}`;
  const ambiguous = /Option '([^']+?)' argument is ambiguous/.exec(err.message);
  if (ambiguous) {
    const flag = ambiguous[1].split(',').pop()!.trim().split(' ')[0];
    return `flag ${flag} needs a value (write ${flag}=-1 for a value that starts with -)`;
  }
  const boolean = /Option '([^']+?)' does not take an argument/.exec(err.message);
  if (boolean) return `flag ${boolean[1].split(',').pop()!.trim()} takes no value`;
  return err.message.split('\n')[0];
}

export function parsePort(value: string | boolean | undefined): number {
  if (value === undefined) return 0;
  const port = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || port > 65535) {
    throw new UsageError(`--port must be a whole number from 0 to 65535 (got ${JSON.stringify(value)})`);
  }
  return port;
}

function parseHost(value: string | boolean | undefined): string {
  if (value === undefined) return DEFAULT_HOST;
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError('--host needs an address, e.g. --host 127.0.0.1');
  return value.trim();
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Parse a whole number from 1 to `max` from a lesson flag, or throw a
 * UsageError naming the flag and the range. Every flag has an upper limit, so
 * no flag can make a lesson run for ever or run out of memory.
 */
export function positiveInt(name: string, value: string | boolean | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || n < 1 || n > max) {
    throw new UsageError(`--${name} must be a whole number from 1 to ${max} (got ${JSON.stringify(value)})`);
  }
  return n;
}

/** The warning for a host other than loopback; null for loopback. */
export function hostWarning(host: string): string | null {
  if (isLoopback(host)) return null;
  return `warning: --host ${host} is not loopback: other machines may be able to connect to this lesson's server`;
}

/**
 * Wait for the `'listening'` that follows `server.listen()`. A failed listen
 * (port in use, bad address) becomes a LessonError that says what to do.
 */
export function listening(server: net.Server): Promise<net.AddressInfo> {
  return new Promise((resolve, reject) => {
    const onListening = () => {
      server.off('error', onError);
      resolve(server.address() as net.AddressInfo);
    };
    const onError = (err: NodeJS.ErrnoException & { address?: string; port?: number }) => {
      server.off('listening', onListening);
      reject(explainListenError(err));
    };
    server.once('listening', onListening);
    server.once('error', onError);
  });
}

export function explainListenError(err: NodeJS.ErrnoException & { address?: string; port?: number }): Error {
  const where = err.port !== undefined ? `port ${err.port}` : 'that port';
  switch (err.code) {
    case 'EADDRINUSE':
      return new LessonError(`${where} is already in use: choose another with --port <n>, or --port 0 for any free port`);
    case 'EACCES':
      return new LessonError(`not allowed to listen on ${where} (ports below 1024 need privileges): use --port 0 or a port above 1023`);
    case 'EADDRNOTAVAIL':
      return new LessonError(`${err.address ?? 'that address'} is not an address of this machine: use --host ${DEFAULT_HOST}`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new LessonError(`cannot resolve the host name given to --host: use an address such as ${DEFAULT_HOST}`);
    default:
      return new LessonError(`could not listen: ${err.message}`);
  }
}

/** Where a client on this machine connects: an "any" address means "this machine" to a client. */
export function clientTarget(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '::1';
  return address;
}

/** How long a stopping server waits for its peers before it destroys what is left. */
export const STOP_GRACE_MS = 5000;

/**
 * Resolves on the first Ctrl-C (SIGINT) or SIGTERM. Listening for them replaces
 * Node's default (exit at once), so the caller can shut down cleanly. A second
 * signal while the caller is still shutting down calls `force`.
 */
export function stopSignal(force: () => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Stop listening for signals again (after a clean shutdown). */
export function forgetStopSignal(force: () => void): void {
  process.off('SIGINT', force);
  process.off('SIGTERM', force);
}

/**
 * Stop handling what the peer sends: the server's 'data' listeners and pipes
 * are detached (an http server's parser too), so no new request is read and
 * no new reply started. What still arrives is read and dropped until the
 * peer's FIN, so that closing never finds unread data (that would send an
 * RST instead of a FIN).
 */
export function stopReading(socket: net.Socket): void {
  socket.unpipe();
  socket.removeAllListeners('data');
  socket.on('data', () => {});
  socket.resume();
}

/**
 * End one connection without cutting anything off: stopReading(), then FIN
 * once the replies already queued have gone out (end() waits for them).
 */
export function finishConnection(socket: net.Socket): void {
  stopReading(socket);
  if (!socket.writableEnded) socket.end();
}

export interface ServeExtras {
  /** extra advice printed under the commands; a function gets the real host and port */
  note?: string | ((host: string, port: number) => string);
  /** the commands that reach this server (default: nc, telnet and socat) */
  commands?: (host: string, port: number) => string[];
}

/**
 * `--serve` mode: listen, print how to connect, and run until Ctrl-C or
 * SIGTERM. Then stop accepting, finish every open connection (finishConnection;
 * for http, once the answers to requests already read are done) and resolve
 * once the server has closed. A peer that does not close its side
 * within STOP_GRACE_MS is destroyed; a second Ctrl-C destroys at once.
 */
export async function serve(server: net.Server, opts: LessonOptions, extras: ServeExtras = {}): Promise<void> {
  const open = new Set<net.Socket>();
  server.on('connection', (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  // An http(s) server answers requests it has already read after we stop reading:
  // a connection ends once its last answer is done, not in the middle of one.
  let stopping = false;
  const answering = new Map<net.Socket, number>();
  server.on('request', (req: { socket: net.Socket }, res: NodeJS.EventEmitter) => {
    const socket = req.socket;
    answering.set(socket, (answering.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const left = (answering.get(socket) ?? 1) - 1;
      if (left > 0) return void answering.set(socket, left);
      answering.delete(socket);
      if (stopping) finishConnection(socket);
    });
  });

  server.listen(opts.port, opts.host);
  const { address, port } = await listening(server);

  // Listen for Ctrl-C before saying it works: a signal that came first would kill the process.
  const force = () => {
    for (const socket of open) socket.destroy();
  };
  const stopped = stopSignal(force);

  const host = clientTarget(address);
  const bracketed = host.includes(':') ? `[${host}]` : host;
  const commands = extras.commands?.(host, port) ?? [`nc ${host} ${port}`, `telnet ${host} ${port}`, `socat - TCP:${bracketed}:${port}`];
  console.log(`listening on ${address.includes(':') ? `[${address}]` : address}:${port}. Talk to it from another terminal:`);
  for (const command of commands) console.log(`  ${command}`);
  if (extras.note) console.log(typeof extras.note === 'function' ? extras.note(host, port) : extras.note);
  console.log('Ctrl-C stops the server.\n');
  const signal = await stopped;

  console.log(`\nstopping (${signal}): closing the server and finishing ${open.size} open connection(s)`);
  if (open.size > 0) console.log(`(each gets its answers and a FIN; a peer that does not close within ${STOP_GRACE_MS / 1000} s is cut off — Ctrl-C again to cut off now)`);
  stopping = true;
  // net.Server's close(): http's own close() also destroys its idle keep-alive connections
  // at once, which sends an RST to a client whose next request is already on its way.
  const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
  // A connection in the middle of an http answer keeps reading (the request's body
  // may still be on its way) and is finished once that answer is done.
  for (const socket of open) if (!answering.has(socket)) finishConnection(socket);
  const grace = setTimeout(force, STOP_GRACE_MS);
  await closed;
  clearTimeout(grace);
  forgetStopSignal(force);
  console.log('server closed');
}

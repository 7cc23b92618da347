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

/** Parse a positive whole number from a lesson flag, or throw a UsageError naming the flag. */
export function positiveInt(name: string, value: string | boolean | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || n < 1) {
    throw new UsageError(`--${name} must be a whole number above 0 (got ${JSON.stringify(value)})`);
  }
  return n;
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

function hostForClients(host: string): string {
  if (host === '0.0.0.0' || host === '::') return DEFAULT_HOST;
  return host;
}

/**
 * `--serve` mode: listen, print how to connect with nc/telnet/socat, and run
 * until Ctrl-C. Then close the server and end every open socket before
 * resolving, so nothing is cut off mid-reply.
 */
export async function serve(
  server: net.Server,
  opts: LessonOptions,
  /** extra advice printed under the commands; a function gets the real host and port */
  note?: string | ((host: string, port: number) => string),
): Promise<void> {
  if (!isLoopback(opts.host)) {
    console.warn(`warning: listening on ${opts.host}, not loopback: other machines may be able to connect`);
  }
  const open = new Set<net.Socket>();
  server.on('connection', (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });

  server.listen(opts.port, opts.host);
  const { address, port } = await listening(server);

  // Listen for Ctrl-C before saying it works: a signal that came first would kill the process.
  // A second Ctrl-C while we wait for peers means "stop now".
  const force = () => {
    for (const socket of open) socket.destroy();
  };
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.once('SIGINT', force);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

  const host = hostForClients(address);
  const bracketed = host.includes(':') ? `[${host}]` : host;
  console.log(`listening on ${address.includes(':') ? `[${address}]` : address}:${port}. Talk to it from another terminal:`);
  console.log(`  nc ${host} ${port}`);
  console.log(`  telnet ${host} ${port}`);
  console.log(`  socat - TCP:${bracketed}:${port}`);
  if (note) console.log(typeof note === 'function' ? note(host, port) : note);
  console.log('Ctrl-C stops the server.\n');
  await stopped;

  console.log(`\nstopping: closing the server and ending ${open.size} open connection(s)`);
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const socket of open) socket.end();
  // A peer that never closes its side is cut off after a grace period.
  const grace = setTimeout(() => {
    for (const socket of open) socket.destroy();
  }, 2000);
  await closed;
  clearTimeout(grace);
  process.off('SIGINT', force);
  console.log('server closed');
}

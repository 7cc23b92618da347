// Errors turned into one line the learner can act on.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeValue, firstLine } from './format.ts';
import { CheckFailure, HOST, type StepResult } from './results.ts';

export function explainError(err: unknown, file: string): Pick<StepResult, 'message' | 'expected' | 'actual'> {
  if (err instanceof CheckFailure) return { message: err.message, expected: err.expected, actual: err.actual };
  if (err instanceof AggregateError && err.errors.length > 0) return explainError(err.errors[0], file);
  if (err instanceof Error) {
    const where = locate(err, file);
    const code = (err as NodeJS.ErrnoException).code;
    const syscall = (err as NodeJS.ErrnoException).syscall;
    // No frame of the learner's file and a system or Node error code: an 'error' event nobody handled.
    if (!where && (syscall || code)) {
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
export function locate(err: Error, file: string): string | undefined {
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
  if (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND' || e?.code === 'ENOENT') {
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

export function explainListenError(err: NodeJS.ErrnoException & { address?: string; port?: number }): CheckFailure {
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

export function explainConnectError(err: NodeJS.ErrnoException, host: string, port: number): CheckFailure {
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


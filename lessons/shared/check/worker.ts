// Runs inside a worker thread that isolated.ts starts: for each request it
// loads the check and the learner's file, runs the check, and reports every
// step to the parent. The parent watches a heartbeat that this thread's event
// loop keeps beating: if learner code never gives control back, the beat stops
// and the parent stops this thread.
import { readlinkSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { locate } from './explain.ts';
import type { FromWorker, RunRequest, WorkerInput } from './isolated.ts';
import { HEARTBEAT_MS } from './isolated.ts';
import type { CheckDefinition } from './results.ts';
import { runCheck } from './run.ts';

const input = workerData as WorkerInput;
const port = parentPort!;
const send = (message: FromWorker) => port.postMessage(message);
const require = createRequire(import.meta.url);

const beat = new Int32Array(input.heartbeat);
setInterval(() => Atomics.add(beat, 0, 1), HEARTBEAT_MS).unref();

// process.exit() in a worker ends only this thread. Say first who called it, and where.
let learnerFile = '';
const exit = process.exit;
process.exit = function (code?: number | string | null) {
  send({ type: 'exit', code: Number(code ?? process.exitCode ?? 0), where: locate(new Error('process.exit'), learnerFile) });
  return exit.call(process, code);
} as typeof process.exit;

// tsx's require() hook compiles without a loader thread, so a worker starts in
// about 50 ms instead of 150. ES modules are always in strict mode; a TypeScript
// file compiled to CommonJS is only when a tsconfig says so, so say it here
// (for TypeScript files only: packages' own JavaScript is left as it is).
type Compile = (this: Module, content: string, filename: string) => unknown;
const proto = Module.prototype as unknown as { _compile: Compile };
const compile = proto._compile;
proto._compile = function (content, filename) {
  const typescript = /\.[cm]?tsx?$/.test(filename);
  const strict = !typescript || content.startsWith('#!') || /^\s*["']use strict["']/.test(content) ? content : `"use strict";${content}`;
  return compile.call(this, strict, filename);
};

/** The learner's file, compiled by tsx and loaded afresh; as an ES module only if it needs top-level await. */
async function load(file: string): Promise<Record<string, unknown>> {
  delete require.cache[file];
  try {
    return require(file) as Record<string, unknown>;
  } catch (err) {
    if (!/top-level await/i.test(String((err as Error)?.message))) throw err;
    const { register } = require('tsx/esm/api') as typeof import('tsx/esm/api');
    register();
    return (await import(`${pathToFileURL(file).href}?t=${Date.now()}`)) as Record<string, unknown>;
  }
}

// On Linux the parent can read this thread's CPU time from /proc, by its id.
let threadId: number | undefined;
try {
  threadId = Number(readlinkSync('/proc/thread-self').split('/').pop()) || undefined;
} catch {
  threadId = undefined; // not Linux: the parent judges by the clock alone
}
send({ type: 'ready', threadId });
// Between checks (and after the last), leftovers of the learner's code that
// throw must not end this thread and lose a verdict already given.
const ignore = () => {};
process.on('unhandledRejection', ignore);
process.setUncaughtExceptionCaptureCallback(ignore);

port.on('message', (request: RunRequest) => {
  learnerFile = request.file;
  process.setUncaughtExceptionCaptureCallback(null); // the check's tracker installs its own
  const definition = (require(request.checkFile) as { default: CheckDefinition<unknown> }).default;
  void runCheck(definition, request.file, {
    timeoutScale: request.timeoutScale,
    deadline: request.deadline,
    load,
    onStepStart: (name, timeout) => send({ type: 'step-start', name, timeout }),
    onStep: (step) => send({ type: 'step', step }),
  }).then((result) => {
    process.setUncaughtExceptionCaptureCallback(ignore);
    send({ type: 'result', result });
  });
});

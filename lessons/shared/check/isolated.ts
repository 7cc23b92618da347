// Runs a check in a worker thread, so that the learner's code cannot hang, end
// or fool the command that checks it. The worker holds the check and the
// learner's code together (a check calls the learner's functions and inspects
// the servers they return); this thread only watches and reports.
//
// Why a worker thread and not a child process: terminate() stops a worker even
// in the middle of an endless loop; process.exit() there ends only the worker;
// resourceLimits turns running out of memory into an error we can explain; and
// a worker starts in about 50 ms, where a second Node process with tsx takes
// about 200 ms, which matters for a verdict that should take under half a second.
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CHECK_DEADLINE, type CheckResult, type StepResult } from './results.ts';

/** How often the worker's event loop beats while it is free to run. */
export const HEARTBEAT_MS = 50;
/** How often the watchdog looks at the heartbeat. */
const TICK_MS = 100;
/** Learner code that holds the event loop this long is stopped (an endless loop?). */
export const BLOCKED_MS = 2000;
/** While loading, compiling holds the event loop too: allow more. */
export const BLOCKED_LOADING_MS = 5000;
/** The JavaScript heap the learner's code and the check may use together. */
export const MEMORY_MB = 256;

export interface WorkerInput {
  checkFile: string;
  file: string;
  heartbeat: SharedArrayBuffer;
  timeoutScale?: number;
  deadline?: number;
}

export type FromWorker =
  | { type: 'step-start'; name: string; timeout: number }
  | { type: 'step'; step: StepResult }
  | { type: 'exit'; code: number; where?: string }
  | { type: 'result'; result: CheckResult };

export interface IsolatedOptions {
  /** multiply every step timeout and the watchdog's limits (also WORKBOOK_CHECK_TIMEOUT_SCALE) */
  timeoutScale?: number;
  /** overall backstop in ms (default CHECK_DEADLINE, scaled) */
  deadline?: number;
  /** called as each step ends, for live output */
  onStep?: (step: StepResult) => void;
  /** heap limit for the worker, in MB (default MEMORY_MB) */
  memoryMb?: number;
}

const require = createRequire(import.meta.url);
const ENTRY = fileURLToPath(new URL('./worker.ts', import.meta.url));
// The worker's first lines: tsx's require() hook, then the entry.
const BOOT = `const { workerData } = require('node:worker_threads');
require(workerData.tsx).register();
require(workerData.entry);`;

/**
 * Run the check in `checkFile` against the learner's `file` in a worker.
 * Never throws; every way the learner's code can stop the worker becomes a
 * failed step with one clear line.
 */
export function runIsolated(checkFile: string, learnerFile: string, options: IsolatedOptions = {}): Promise<CheckResult> {
  const file = path.resolve(learnerFile);
  const fromEnv = Number(process.env.WORKBOOK_CHECK_TIMEOUT_SCALE);
  const scale = options.timeoutScale ?? (Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : 1);
  const memoryMb = options.memoryMb ?? MEMORY_MB;
  const heartbeat = new SharedArrayBuffer(4);
  const beats = new Int32Array(heartbeat);
  const input: WorkerInput = { checkFile, file, heartbeat, timeoutScale: scale, deadline: options.deadline };
  const worker = new Worker(BOOT, {
    eval: true,
    workerData: { ...input, tsx: require.resolve('tsx/cjs/api'), entry: ENTRY },
    resourceLimits: { maxOldGenerationSizeMb: memoryMb },
  });

  const steps: StepResult[] = [];
  const started = performance.now();
  let current: { name: string; since: number } | undefined = { name: 'loading your file', since: started };
  let exitCall: { code: number; where?: string } | undefined;

  return new Promise<CheckResult>((resolve) => {
    let settled = false;
    const finish = (result: CheckResult) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      clearTimeout(deadline);
      void worker.terminate();
      resolve(result);
    };
    /** The worker is gone without a verdict: fail the step it was in, with `message`. */
    const stopped = (message: string) => {
      const name = current?.name ?? 'running the check';
      const step: StepResult = { name, status: 'failed', ms: performance.now() - (current?.since ?? started), message };
      steps.push(step);
      options.onStep?.(step);
      finish({ ok: false, file, steps, failed: step, leftOpen: [] });
    };

    worker.on('message', (message: FromWorker) => {
      switch (message.type) {
        case 'step-start':
          current = { name: message.name, since: performance.now() };
          break;
        case 'step':
          current = undefined;
          steps.push(message.step);
          options.onStep?.(message.step);
          break;
        case 'exit':
          exitCall = message;
          break;
        case 'result':
          finish(message.result);
          break;
      }
    });
    worker.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        stopped(`your code ran out of memory (the check allows ${memoryMb} MB of JavaScript heap): does something grow without a limit?`);
      } else {
        stopped(`the check stopped unexpectedly: ${err.name}: ${String(err.message).split('\n')[0]}`);
      }
    });
    worker.on('exit', (code) => {
      if (exitCall) {
        const where = exitCall.where ? ` (at ${exitCall.where})` : '';
        stopped(`your code called process.exit(${exitCall.code})${where}: the check cannot finish once the process ends — remove that call`);
      } else {
        stopped(`the check ended before its verdict (exit code ${code})`);
      }
    });

    // The watchdog: no heartbeat for too long means the worker's event loop is held.
    // When this thread's own ticks come late, the whole machine is overloaded:
    // that time is not held against the worker.
    let lastCount = Atomics.load(beats, 0);
    let lastBeat = performance.now();
    let lastTick = lastBeat;
    const watchdog = setInterval(() => {
      const count = Atomics.load(beats, 0);
      const now = performance.now();
      const late = now - lastTick > TICK_MS * 3;
      lastTick = now;
      if (count !== lastCount || late) {
        lastCount = count;
        lastBeat = now;
        return;
      }
      const loading = current?.name === 'loading your file';
      // Scaled up on slow machines, never down: a short limit would call a busy machine an endless loop.
      const limit = (loading ? BLOCKED_LOADING_MS : BLOCKED_MS) * Math.max(1, scale);
      if (now - lastBeat < limit) return;
      const seconds = (limit / 1000).toFixed(1);
      stopped(
        loading
          ? `your file did not finish loading: its top-level code held the event loop for ${seconds} s (an endless loop?), so the check stopped it`
          : `your code did not give control back for ${seconds} s (an endless loop?), so nothing else could run; the check stopped it`,
      );
    }, TICK_MS);
    // A backstop beyond the check's own deadline, for a worker that never answers at all.
    const limit = Math.round((options.deadline ?? CHECK_DEADLINE) * scale) + 5000;
    const deadline = setTimeout(() => stopped(`the check did not finish within ${limit} ms`), limit);
  });
}

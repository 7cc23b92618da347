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
import { readFileSync } from 'node:fs';
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
/** A thread held without using the CPU (a synchronous wait, or starved by a busy machine) gets this long at least. */
const STARVED_MS = 10_000;
/** The JavaScript heap the learner's code and the check may use together. */
export const MEMORY_MB = 256;

/** What the worker is started with. */
export interface WorkerInput {
  heartbeat: SharedArrayBuffer;
}

/** One check for the worker to run. */
export interface RunRequest {
  checkFile: string;
  file: string;
  timeoutScale: number;
  deadline?: number;
}

export type FromWorker =
  | { type: 'ready'; threadId?: number }
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
  /** how long a held event loop is tolerated, in ms (default BLOCKED_MS; for tests) */
  blockedMs?: number;
  /** the same while loading the learner's file (default BLOCKED_LOADING_MS; for tests) */
  blockedLoadingMs?: number;
  /** heap limit of a new worker, in MB (default MEMORY_MB; runIsolated only) */
  memoryMb?: number;
}

const require = createRequire(import.meta.url);
const ENTRY = fileURLToPath(new URL('./worker.ts', import.meta.url));
// The worker's first lines: tsx's require() hook, then the entry.
const BOOT = `const { workerData } = require('node:worker_threads');
require(workerData.tsx).register();
require(workerData.entry);`;

function scaleOf(options: IsolatedOptions): number {
  const fromEnv = Number(process.env.WORKBOOK_CHECK_TIMEOUT_SCALE);
  return options.timeoutScale ?? (Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : 1);
}

/**
 * A worker thread that runs checks, one at a time. Every way the learner's
 * code can stop it (an endless loop, process.exit(), running out of memory)
 * becomes a failed step with one clear line, and the worker is then dead.
 */
export class CheckWorker {
  readonly #worker: Worker;
  readonly #beats: Int32Array;
  readonly #memoryMb: number;
  /** resolves once the worker has loaded the harness and its heartbeat runs */
  readonly #ready: Promise<void>;
  /** the worker thread's id on Linux, to read its CPU time */
  #threadId?: number;
  #dead = false;
  /** the check running now */
  #run?: {
    file: string;
    options: IsolatedOptions;
    steps: StepResult[];
    current?: { name: string; since: number };
    exitCall?: { code: number; where?: string };
    finish: (result: CheckResult) => void;
  };

  constructor(memoryMb = MEMORY_MB) {
    this.#memoryMb = memoryMb;
    const heartbeat = new SharedArrayBuffer(4);
    this.#beats = new Int32Array(heartbeat);
    const input: WorkerInput = { heartbeat };
    this.#worker = new Worker(BOOT, {
      eval: true,
      workerData: { ...input, tsx: require.resolve('tsx/cjs/api'), entry: ENTRY },
      resourceLimits: { maxOldGenerationSizeMb: memoryMb },
    });
    this.#ready = new Promise((resolve) =>
      this.#worker.once('message', (message: FromWorker) => {
        if (message.type === 'ready') this.#threadId = message.threadId;
        resolve();
      }),
    );
    this.#worker.on('message', (message: FromWorker) => this.#message(message));
    this.#worker.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        this.#stopped(`your code ran out of memory (the check allows ${this.#memoryMb} MB of JavaScript heap): does something grow without a limit?`);
      } else {
        this.#stopped(`the check stopped unexpectedly: ${err.name}: ${String(err.message).split('\n')[0]}`);
      }
    });
    this.#worker.on('exit', (code) => {
      const exitCall = this.#run?.exitCall;
      if (exitCall) {
        const where = exitCall.where ? ` (at ${exitCall.where})` : '';
        this.#stopped(`your code called process.exit(${exitCall.code})${where}: the check cannot finish once the process ends — remove that call`);
      } else {
        this.#stopped(`the check ended before its verdict (exit code ${code})`);
      }
    });
  }

  /** False once the worker was stopped or died: it runs nothing more. */
  get alive(): boolean {
    return !this.#dead;
  }

  /** Run the check in `checkFile` against the learner's file. Never rejects (it throws only when a check is already running). */
  run(checkFile: string, learnerFile: string, options: IsolatedOptions = {}): Promise<CheckResult> {
    if (this.#run) throw new Error('CheckWorker: one check at a time');
    const file = path.resolve(learnerFile);
    if (this.#dead) return Promise.resolve(failed(file, [], 'running the check', 'the check could not start (its worker had stopped)'));
    const scale = scaleOf(options);
    return new Promise<CheckResult>((resolve) => {
      const started = performance.now();
      // The watchdog: no heartbeat for too long means the worker's event loop is held.
      // It starts once the worker is ready (starting it holds the loop too). When this
      // thread's own ticks come late, the whole machine is overloaded: that time is not
      // held against the worker.
      let ready = false;
      void this.#ready.then(() => (ready = true));
      // On Linux, also the worker's own CPU time: a thread that an overloaded machine
      // does not let run is not looping, and is not stopped.
      let lastCount = Atomics.load(this.#beats, 0);
      let lastBeat = started;
      let lastTick = started;
      let cpuAtBeat = 0;
      const watchdog = setInterval(() => {
        const count = Atomics.load(this.#beats, 0);
        const now = performance.now();
        const late = now - lastTick > TICK_MS * 3;
        lastTick = now;
        if (count !== lastCount || late || !ready) {
          lastCount = count;
          lastBeat = now;
          cpuAtBeat = threadCpuMs(this.#threadId) ?? 0;
          return;
        }
        const loading = run.current?.name === 'loading your file';
        // Scaled up on slow machines, never down: a short limit would call a busy machine an endless loop.
        const limit = (loading ? options.blockedLoadingMs : options.blockedMs) ?? (loading ? BLOCKED_LOADING_MS : BLOCKED_MS) * Math.max(1, scale);
        const held = now - lastBeat;
        if (held < limit) return;
        // Held without using the CPU (a synchronous wait, or a starved thread): allow five times as long, 10 s at least.
        const cpu = threadCpuMs(this.#threadId);
        if (cpu !== undefined && cpu - cpuAtBeat < limit * 0.75 && held < Math.max(limit * 5, STARVED_MS)) return;
        const seconds = (held / 1000).toFixed(1);
        this.#stopped(
          loading
            ? `your file did not finish loading: its top-level code held the event loop for ${seconds} s (an endless loop?), so the check stopped it`
            : `your code did not give control back for ${seconds} s (an endless loop?), so nothing else could run; the check stopped it`,
        );
      }, TICK_MS);
      // A backstop beyond the check's own deadline, for a worker that never answers at all.
      const limit = Math.round((options.deadline ?? CHECK_DEADLINE) * scale) + 5000;
      const deadline = setTimeout(() => this.#stopped(`the check did not finish within ${limit} ms`), limit);
      const run = {
        file,
        options,
        steps: [] as StepResult[],
        current: { name: 'loading your file', since: started } as { name: string; since: number } | undefined,
        finish: (result: CheckResult) => {
          clearInterval(watchdog);
          clearTimeout(deadline);
          this.#run = undefined;
          resolve(result);
        },
      };
      this.#run = run;
      const request: RunRequest = { checkFile, file, timeoutScale: scale, deadline: options.deadline };
      this.#worker.postMessage(request);
    });
  }

  /** Stop the worker (whatever it is doing). */
  async close(): Promise<void> {
    this.#dead = true;
    await this.#worker.terminate();
  }

  #message(message: FromWorker): void {
    const run = this.#run;
    if (!run) return;
    switch (message.type) {
      case 'ready':
        break;
      case 'step-start':
        run.current = { name: message.name, since: performance.now() };
        break;
      case 'step':
        run.current = undefined;
        run.steps.push(message.step);
        run.options.onStep?.(message.step);
        break;
      case 'exit':
        run.exitCall = message;
        break;
      case 'result':
        run.finish(message.result);
        break;
    }
  }

  /** The worker is gone or must go, without a verdict: fail the step it was in. */
  #stopped(message: string): void {
    const alreadyDead = this.#dead;
    this.#dead = true;
    if (!alreadyDead) void this.#worker.terminate();
    const run = this.#run;
    if (!run) return;
    const name = run.current?.name ?? 'running the check';
    const step: StepResult = { name, status: 'failed', ms: performance.now() - (run.current?.since ?? performance.now()), message };
    run.steps.push(step);
    run.options.onStep?.(step);
    run.finish({ ok: false, file: run.file, steps: run.steps, failed: step, leftOpen: [] });
  }
}

/** CPU time (user + system) that one thread of this process has used, in ms; Linux only. */
function threadCpuMs(threadId: number | undefined): number | undefined {
  if (threadId === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/self/task/${threadId}/stat`, 'utf8');
    // After the command name in parentheses: state is field 3, utime 14 and stime 15, in 1/100 s.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

function failed(file: string, steps: StepResult[], name: string, message: string): CheckResult {
  const step: StepResult = { name, status: 'failed', ms: 0, message };
  return { ok: false, file, steps: [...steps, step], failed: step, leftOpen: [] };
}

/**
 * Run the check in `checkFile` against the learner's `file` in a worker (a new
 * one, or one started earlier to save its start-up time), then stop the worker.
 */
export async function runIsolated(
  checkFile: string,
  learnerFile: string,
  options: IsolatedOptions = {},
  worker = new CheckWorker(options.memoryMb),
): Promise<CheckResult> {
  try {
    return await worker.run(checkFile, learnerFile, options);
  } finally {
    await worker.close();
  }
}

/**
 * Up to `size` workers running checks side by side, each reused for the next
 * check while it is clean: a worker whose check left anything open (a timer,
 * say) or that was stopped is replaced, so no check sees another's leftovers.
 * The workbook's tests prove every exercise through it.
 */
export class CheckPool {
  readonly #idle: CheckWorker[] = [];
  readonly #waiting: (() => void)[] = [];
  #busy = 0;

  constructor(readonly size: number) {}

  async run(checkFile: string, learnerFile: string, options: IsolatedOptions = {}): Promise<CheckResult> {
    while (this.#busy >= this.size) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#busy += 1;
    const worker = this.#idle.pop() ?? new CheckWorker();
    try {
      const result = await worker.run(checkFile, learnerFile, options);
      if (worker.alive && result.leftOpen.length === 0) this.#idle.push(worker);
      else await worker.close();
      return result;
    } finally {
      this.#busy -= 1;
      this.#waiting.shift()?.();
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.#idle.splice(0).map((worker) => worker.close()));
  }
}

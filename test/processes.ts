// Run the workbook's commands as a learner would, in child processes, and
// wait for their output or exit — never for a fixed time.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Start `node --import tsx scripts/<script> ...args` in the repo (`--require
 * tsx/cjs` for the entries in scripts/bin/); killed when
 * the test ends. `group`: in a process group of its own, as a terminal or a
 * supervisor starts a program (then `process.kill(-pid, signal)` reaches it).
 */
export function start(t: TestContext, script: string, args: string[], env: NodeJS.ProcessEnv = {}, group = false): Running {
  // scripts/bin/ holds CommonJS entries, loaded as package.json's scripts load them.
  const loader = script.startsWith('bin/') ? ['--require', 'tsx/cjs'] : ['--import', 'tsx'];
  const child = spawn(process.execPath, [...loader, path.join('scripts', script), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env, FORCE_COLOR: '0', NO_COLOR: '1' },
    detached: group,
  });
  const running = new Running(child);
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return running;
}

/** Run a script to the end and return its exit code and output. */
export function run(t: TestContext, script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Finished> {
  return start(t, script, args, env).finished;
}

export class Running {
  stdout = '';
  stderr = '';
  readonly finished: Promise<Finished>;
  readonly #waiters = new Set<() => void>();
  #closed = false;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      this.stdout += text;
      for (const wake of this.#waiters) wake();
    });
    child.stderr.on('data', (text: string) => {
      this.stderr += text;
    });
    this.finished = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        this.#closed = true;
        for (const wake of this.#waiters) wake();
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  /** Resolve with the first match of `pattern` in stdout, as soon as it appears. */
  waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const settle = (error?: string) => {
        this.#waiters.delete(check);
        clearTimeout(timer);
        if (error) reject(new Error(`${error} ${pattern}; stdout: ${this.stdout} stderr: ${this.stderr}`));
      };
      const timer = setTimeout(() => settle(`no output matching in ${timeoutMs} ms:`), timeoutMs);
      const check = () => {
        const match = this.stdout.match(pattern);
        if (match) {
          settle();
          resolve(match);
        } else if (this.#closed) {
          settle('process ended before printing');
        }
      };
      this.#waiters.add(check);
      check();
    });
  }
}

/**
 * Run a short Node script (`node -e`) in a child process, for what must not
 * happen in the test's own process (a crash is the point). `module`: run it as
 * an ES module. The timeout is only a safety net: the script ends by itself.
 */
export async function runScript(script: string, { module = false } = {}): Promise<Finished> {
  const args = module ? ['--input-type=module', '-e', script] : ['-e', script];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  return { code, signal, stdout, stderr };
}

/** A one-line error: no stack frames, no multi-line dumps. */
export function assertOneLine(stderr: string): void {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /^\s+at /m);
}

/** True when a command is on the PATH. */
export function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Run a lesson's main() with no flags in a worker thread, as `npm run lesson
 * <id>` runs it in a process: a worker, like a process, ends by itself only
 * once its lesson has closed everything it opened. About a fifth of the CPU of
 * a new process with tsx. `ended` is false if it had not ended after `limitMs`.
 */
export function runLessonInWorker(lessonFile: string, limitMs = 20_000): Promise<{ ended: boolean; code: number | null; stdout: string; stderr: string }> {
  const boot = `const { workerData } = require('node:worker_threads');
require(workerData.tsx).register();
const { parseLessonArgs } = require(workerData.cli);
const lesson = require(workerData.lessonFile);
lesson.main(parseLessonArgs([], lesson.flags)).catch((err) => { console.error(err); process.exitCode = 1; });`;
  const worker = new Worker(boot, {
    eval: true,
    stdout: true,
    stderr: true,
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
    workerData: { tsx: require.resolve('tsx/cjs/api'), cli: path.join(ROOT, 'lessons', 'shared', 'cli.ts'), lessonFile },
  });
  let stdout = '';
  let stderr = '';
  worker.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  worker.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      void worker.terminate();
      resolve({ ended: false, code: null, stdout, stderr });
    }, limitMs);
    worker.on('error', (err) => (stderr += String(err)));
    worker.on('exit', (code) => {
      clearTimeout(timer);
      // What the worker printed last may still be on its way.
      setImmediate(() => resolve({ ended: true, code, stdout, stderr }));
    });
  });
}

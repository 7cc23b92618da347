// Run the workbook's commands as a learner would, in child processes, and
// wait for their output or exit — never for a fixed time.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Start `node --import tsx scripts/<script> ...args` in the repo; killed when
 * the test ends. `group`: in a process group of its own, as a terminal or a
 * supervisor starts a program (then `process.kill(-pid, signal)` reaches it).
 */
export function start(t: TestContext, script: string, args: string[], env: NodeJS.ProcessEnv = {}, group = false): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join('scripts', script), ...args], {
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

/** True when a command is on the PATH. */
export function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

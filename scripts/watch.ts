// `npm run watch [-- --poll]`: check the current exercise, then again on every
// save of its exercise.ts; after a pass, move on to the next exercise. --poll
// checks the file's time stamp instead of waiting for file events (for WSL on
// a Windows drive, network drives, some containers). Enter re-checks, h+Enter
// shows a hint, q+Enter or Ctrl-C stops. A save during a check stops that
// (stale, maybe stuck) check and starts a new one.
import { spawn, type ChildProcess } from 'node:child_process';
import { watch, watchFile, unwatchFile, type FSWatcher, type StatsListener } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { ROOT, bar, currentExercise, dim, exerciseFile, exerciseLessons, label, loadProgress, nextSteps, parseCommand, shown, type ExerciseLesson } from './lib/exercises.ts';
import { report } from './lib/report.ts';

const USAGE = 'npm run watch [-- --poll]';
const POLL_MS = 400;
const QUIET_MS = 100; // editors save in several writes: check once they are done

class Watcher {
  #lesson: ExerciseLesson;
  #poll: boolean;
  #stopWatching?: () => void;
  #child?: ChildProcess;
  #again = false;
  #stopping = false;
  #quiet?: NodeJS.Timeout;
  #input?: readline.Interface;
  #onSigint = () => this.stop('\nStopped watching.');

  constructor(lesson: ExerciseLesson, poll: boolean) {
    this.#lesson = lesson;
    this.#poll = poll;
  }

  start(): void {
    process.on('SIGINT', this.#onSigint);
    if (process.stdin.isTTY) {
      this.#input = readline.createInterface({ input: process.stdin, terminal: false });
      this.#input.on('line', (line) => this.#key(line.trim().toLowerCase()));
    }
    this.#begin();
  }

  #begin(): void {
    const file = exerciseFile(this.#lesson);
    console.log(`\n${nextSteps(this.#lesson)}\n`);
    console.log(dim(`Watching ${shown(file)}${this.#poll ? ' (polling)' : ''}: save it to check again. Enter: check now, h: hint, q or Ctrl-C: stop.`));
    this.#watch(file);
    this.#check();
  }

  #watch(file: string): void {
    if (this.#poll) {
      const listener: StatsListener = (now, before) => {
        if (now.mtimeMs !== before.mtimeMs || now.size !== before.size) this.#changed();
      };
      watchFile(file, { interval: POLL_MS }, listener);
      this.#stopWatching = () => unwatchFile(file, listener);
      return;
    }
    // Watch the folder, not the file: many editors save by replacing the file.
    let watcher: FSWatcher;
    try {
      watcher = watch(path.dirname(file), (_event, name) => {
        if (name === null || name.toString() === path.basename(file)) this.#changed();
      });
    } catch (err) {
      console.error(`error: cannot watch ${shown(file)} (${(err as Error).message}); try npm run watch -- --poll`);
      this.stop();
      return;
    }
    watcher.on('error', (err) => {
      console.error(`error: watching stopped (${err.message}); try npm run watch -- --poll`);
      this.stop();
    });
    this.#stopWatching = () => watcher.close();
  }

  #changed(): void {
    clearTimeout(this.#quiet);
    this.#quiet = setTimeout(() => this.#check(), QUIET_MS);
  }

  #key(key: string): void {
    if (key === 'q') this.stop('Stopped watching.');
    else if (key === 'h') this.#run('hint.ts', [this.#lesson.id], () => {});
    else if (key === '') this.#check();
  }

  #check(): void {
    if (this.#stopping) return;
    if (this.#child) {
      // A save during a check: that check is stale (and may be stuck), so stop it and check again.
      this.#again = true;
      this.#child.kill('SIGTERM');
      return;
    }
    console.log(dim(`\n── ${new Date().toLocaleTimeString()} ──`));
    this.#run('check.ts', [this.#lesson.id], (code) => {
      if (this.#again) {
        this.#again = false;
        this.#check();
      } else if (code === 0) {
        this.#advance();
      }
    });
  }

  #run(script: string, args: string[], done: (code: number | null) => void): void {
    // The check starts as `npm run check` starts it (scripts/bin/check.ts: tsx's faster require() hook).
    const entry = script === 'check.ts' ? ['--require', 'tsx/cjs', path.join(ROOT, 'scripts', 'bin', script)] : ['--import', 'tsx', path.join(ROOT, 'scripts', script)];
    const child = spawn(process.execPath, [...entry, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, WORKBOOK_WATCHING: '1' },
    });
    if (script === 'check.ts') this.#child = child;
    child.on('exit', (code) => {
      if (script === 'check.ts') this.#child = undefined;
      if (this.#stopping) return;
      done(code);
    });
  }

  #advance(): void {
    const next = currentExercise(loadProgress());
    if (!next) {
      const total = exerciseLessons().length;
      this.stop(`\nAll exercises are done ${bar(total, total)}. Well done!`);
      return;
    }
    if (next.id === this.#lesson.id) return;
    this.#stopWatching?.();
    this.#lesson = next;
    console.log(`\nOn to the next exercise: ${label(next)}.`);
    this.#begin();
  }

  /** Stop watching and let the process end by itself. */
  stop(message?: string): void {
    if (this.#stopping) return;
    this.#stopping = true;
    if (message) console.log(message);
    clearTimeout(this.#quiet);
    this.#stopWatching?.();
    this.#input?.close();
    process.stdin.pause();
    process.off('SIGINT', this.#onSigint);
    this.#child?.kill('SIGTERM');
  }
}

try {
  const { values } = parseCommand(process.argv.slice(2), { poll: { type: 'boolean' } }, USAGE, 0);
  if (values.help) {
    console.log(`${USAGE}\n\nChecks the current exercise on every save and moves on after a pass. --poll: check file times instead of file events.`);
  } else {
    const current = currentExercise(loadProgress());
    if (!current) {
      const total = exerciseLessons().length;
      console.log(`All exercises are done ${bar(total, total)}. npm run reset <exercise> starts one again.`);
    } else {
      new Watcher(current, values.poll === true).start();
    }
  }
} catch (err) {
  process.exitCode = report(err, 'watch');
}

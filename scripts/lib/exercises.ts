// Shared by the exercise commands (check, hint, progress, next, reset, watch):
// where the files are, the progress file, the current exercise, the hints, and
// how a check result is printed.
//
// Overrides, for tests and for learners who keep their work elsewhere:
//   WORKBOOK_PROGRESS=<file>      the progress file (default .workbook-progress.json at the repo root)
//   WORKBOOK_LESSONS_DIR=<dir>    where the learner's exercise.ts files live (default lessons/);
//                                 checks, stubs, hints and solutions always come from the repo
//   WORKBOOK_TYPECHECK=off        skip the tsc run that lists type errors next to the verdict
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LESSONS, findLesson, folderName, lessonDir, type Exercise, type Lesson } from '../../lessons/catalog.ts';
import { UsageError } from '../../lessons/shared/cli.ts';
import { quietWhenStdoutCloses } from './report.ts';
import { isDone, type Progress } from './progress.ts';
// Only the isolated runner: the parent process never loads the harness itself.
import { runIsolated, type CheckWorker, type IsolatedOptions } from '../../lessons/shared/check/isolated.ts';
import type { CheckResult, StepResult } from '../../lessons/shared/check/results.ts';

quietWhenStdoutCloses();

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export type ExerciseLesson = Lesson & { exercise: Exercise };

/** Lessons that have an exercise, in order. */
export function exerciseLessons(): ExerciseLesson[] {
  return LESSONS.filter((l): l is ExerciseLesson => l.exercise !== undefined);
}

// ── files ─────────────────────────────────────────────────────────────────

/** The learner's file: lessons/NN-slug/exercise.ts (or under WORKBOOK_LESSONS_DIR). */
export function exerciseFile(lesson: Lesson): string {
  const dir = process.env.WORKBOOK_LESSONS_DIR ? path.resolve(process.env.WORKBOOK_LESSONS_DIR) : path.join(ROOT, 'lessons');
  return path.join(dir, folderName(lesson), 'exercise.ts');
}

/** A file of the exercise in the repo itself, e.g. 'exercise.check.ts', 'solution/stub.ts'. */
export function repoFile(lesson: Lesson, name: string): string {
  return path.join(lessonDir(lesson), name);
}

export const stubFile = (lesson: Lesson) => repoFile(lesson, 'solution/stub.ts');
export const solutionFile = (lesson: Lesson) => repoFile(lesson, 'solution/exercise.ts');
export const checkFile = (lesson: Lesson) => repoFile(lesson, 'exercise.check.ts');
export const hintsFile = (lesson: Lesson) => repoFile(lesson, 'hints.md');
export const readmeFile = (lesson: Lesson) => repoFile(lesson, 'README.md');

/** True when the module with this import.meta.url is the script node was started with. */
export function isMain(url: string): boolean {
  return process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(url);
}

/** A path as the learner should see it: relative to the repo when inside it. */
export function shown(file: string): string {
  const rel = path.relative(ROOT, file);
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel.split(path.sep).join('/');
}

export function label(lesson: ExerciseLesson): string {
  return `${lesson.id} · ${lesson.exercise.title}`;
}

// ── progress (the file itself: scripts/lib/progress.ts) ───────────────────

export { isDone, loadProgress, progressFile, saveProgress, setDone, type Progress } from './progress.ts';

/** The first exercise not done yet, or undefined when all are done. */
export function currentExercise(progress: Progress): ExerciseLesson | undefined {
  return exerciseLessons().find((l) => !isDone(progress, l));
}

/** The exercise after `lesson` that is not done yet (wrapping to earlier ones). */
export function nextAfter(progress: Progress, lesson: Lesson): ExerciseLesson | undefined {
  const all = exerciseLessons();
  const index = all.findIndex((l) => l.id === lesson.id);
  return [...all.slice(index + 1), ...all.slice(0, index)].find((l) => !isDone(progress, l));
}

// ── arguments ─────────────────────────────────────────────────────────────

function validIds(): string {
  return exerciseLessons()
    .map((l) => `${l.id} (${l.slug})`)
    .join(', ');
}

/**
 * The exercise named by `id` (1, 01, 01-create-server, create-server), or the
 * current one when `id` is undefined (undefined again when all are done).
 */
export function resolveExercise(id: string | undefined, progress: Progress): ExerciseLesson | undefined {
  if (id === undefined) return currentExercise(progress);
  const lesson = findLesson(id);
  if (!lesson) throw new UsageError(`there is no lesson "${id}": exercises exist for ${validIds()}`);
  if (!lesson.exercise) throw new UsageError(`lesson ${lesson.id} has no exercise yet: exercises exist for ${validIds()}`);
  return lesson as ExerciseLesson;
}

type Flags = Record<string, { type: 'boolean' | 'string' }>;

/**
 * Parse a command's argv: at most `maxPositionals` positionals and the given
 * flags. Any mistake becomes a one-line UsageError that shows the usage.
 */
export function parseCommand(
  argv: string[],
  flags: Flags,
  usage: string,
  maxPositionals = 1,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: { ...flags, help: { type: 'boolean' } }, strict: true, allowPositionals: true }) as typeof parsed;
  } catch (err) {
    const message = (err as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(message)?.[1];
    const missing = /Option '(?:-\w, )?(--[\w-]+)[^']*' argument missing/.exec(message)?.[1];
    const problem = unknown ? `unknown flag ${unknown}` : missing ? `${missing} needs a value` : message.split('\n')[0].replace(/\. To specify.*$/, '');
    throw new UsageError(`${problem} — usage: ${usage}`);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument ${parsed.positionals[maxPositionals]} — usage: ${usage}`);
  }
  const flag = parsed.positionals.find((p) => p.startsWith('-'));
  if (flag) throw new UsageError(`unknown flag ${flag} — usage: ${usage}`);
  return parsed;
}

// ── hints ─────────────────────────────────────────────────────────────────

/** The hints of a hints.md: one per `## ` section (title and text). */
export function parseHints(markdown: string): { title: string; text: string }[] {
  const sections = markdown.split(/^## /m).slice(1);
  return sections.map((section) => {
    const [title, ...body] = section.split('\n');
    return { title: title.trim(), text: body.join('\n').trim() };
  });
}

export function readHints(lesson: Lesson): { title: string; text: string }[] {
  const file = hintsFile(lesson);
  if (!existsSync(file)) return [];
  return parseHints(readFileSync(file, 'utf8'));
}

// ── running a check ───────────────────────────────────────────────────────

/**
 * Run the lesson's check against `file` (default: the learner's exercise.ts),
 * in a worker thread that the learner's code cannot hang, end or fool. Pass a
 * worker started earlier to save its start-up time; it is stopped afterwards.
 */
export async function checkExercise(
  lesson: Lesson,
  file = exerciseFile(lesson),
  options: IsolatedOptions = {},
  worker?: CheckWorker,
): Promise<CheckResult> {
  return runIsolated(checkFile(lesson), file, options, worker);
}

/**
 * Type errors in one file, as `exercise.ts:4:45 Cannot find name …` lines.
 * tsx runs a file without type-checking it, so the check cannot see them: the
 * commands start this next to the check and print what it found either way.
 * Empty when there are none or tsc cannot run.
 */
export function typeErrors(file: string): Promise<string[]> {
  const tsc = tscCommand();
  if (!tsc || !existsSync(file)) return Promise.resolve([]);
  const options = ['--ignoreConfig', '--noEmit', '--pretty', 'false', '--strict', '--target', 'es2022', '--module', 'nodenext'];
  const types = ['--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types'), '--skipLibCheck', '--allowImportingTsExtensions'];
  return new Promise((resolve) => {
    const child = execFile(tsc[0], [...tsc.slice(1), ...options, ...types, file], { cwd: path.dirname(file), encoding: 'utf8', timeout: 30_000 }, (_err, stdout) => {
      const name = path.basename(file);
      const errors: string[] = [];
      for (const line of `${stdout ?? ''}`.split('\n')) {
        const m = /^(.+?)\((\d+),(\d+)\): error TS\d+: (.*)$/.exec(line.trim());
        if (m && path.resolve(path.dirname(file), m[1]) === path.resolve(file)) errors.push(`${name}:${m[2]}:${m[3]} ${m[4]}`);
      }
      resolve(errors);
    });
    child.stdin?.end();
  });
}

/**
 * TypeScript 7's compiler is a native program; its `tsc` script only starts
 * it. Starting it directly saves a Node start (about 70 ms of every check).
 */
function tscCommand(): string[] | undefined {
  const native = path.join(ROOT, 'node_modules', '@typescript', `typescript-${process.platform}-${process.arch}`, 'lib', process.platform === 'win32' ? 'tsc.exe' : 'tsc');
  if (existsSync(native)) return [native];
  const script = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  return existsSync(script) ? [process.execPath, script] : undefined;
}

// ── printing ──────────────────────────────────────────────────────────────

const useColor = process.stdout.isTTY === true && !process.env.NO_COLOR && process.env.FORCE_COLOR !== '0';
const paint = (code: number) => (text: string) => (useColor ? `\u001b[${code}m${text}\u001b[0m` : text);
export const green = paint(32);
export const red = paint(31);
export const dim = paint(2);
export const bold = paint(1);

/** The lines printed for one step. */
export function formatStep(step: StepResult): string {
  if (step.status === 'passed') return `  ${green('✓')} ${step.name}`;
  if (step.status === 'skipped') return `  ${dim('-')} ${step.name} ${dim(`(skipped: ${step.message})`)}`;
  const lines = [`  ${red('✗')} ${step.name}${step.timedOutAfter ? ` ${dim(`(timed out after ${step.timedOutAfter} ms)`)}` : ''}`];
  if (step.message) lines.push(`      ${step.message}`);
  if (step.expected !== undefined) lines.push(`      expected: ${step.expected}`);
  if (step.actual !== undefined) lines.push(`      actual:   ${step.actual}`);
  if (step.open && step.open.length > 0) {
    lines.push('      still open when the step timed out:');
    for (const item of step.open) lines.push(`        - ${item}`);
  }
  return lines.join('\n');
}

/** A progress bar: [#####-----] 1/2. Every command draws the same one. */
export function bar(done: number, total: number): string {
  const width = 20;
  const filled = total === 0 ? 0 : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`;
}

/** What to do for an exercise: read, run, edit, check. */
export function nextSteps(lesson: ExerciseLesson): string {
  return [
    `${bold(`Next: ${label(lesson)}`)}  (lesson ${lesson.id}: ${lesson.title})`,
    `  ${lesson.exercise.task}`,
    '',
    `  1. read   ${shown(readmeFile(lesson))}`,
    `  2. run    npm run lesson ${lesson.id}`,
    `  3. edit   ${shown(exerciseFile(lesson))}  (its top comment says what to write)`,
    `  4. check  npm run check ${lesson.id}   (or npm run watch: re-checks on every save)`,
    `  stuck?    npm run hint ${lesson.id}`,
  ].join('\n');
}

// `npm run check [exercise] [-- --file <path>]`: run an exercise's check
// against your exercise.ts (or another file), step by step. Without an
// exercise, checks the current one (the first not done yet).
// Exit code: 0 passed, 1 not yet (or a problem with the files), 2 a mistake in the command.
//
// The check runs in a worker thread (lessons/shared/check/isolated.ts): your
// code cannot hang it, end it or write the verdict. Only this command records
// progress, from the verdict it received.
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CheckWorker } from '../lessons/shared/check/isolated.ts';
import { LessonError } from '../lessons/shared/cli.ts';
import {
  bar,
  bold,
  checkExercise,
  dim,
  exerciseFile,
  exerciseLessons,
  formatStep,
  green,
  isMain,
  label,
  nextAfter,
  parseCommand,
  red,
  resolveExercise,
  shown,
  solutionFile,
  typeErrors,
} from './lib/exercises.ts';
import { formatProgress, parseProgress, progressFile, progressText, saveProgress, type Progress } from './lib/progress.ts';
import { report } from './lib/report.ts';

const USAGE = 'npm run check [exercise] [-- --file <path>]   e.g. npm run check 01';

export async function main(argv: string[], worker?: CheckWorker): Promise<number> {
  try {
    return await check(argv, worker);
  } finally {
    await worker?.close();
  }
}

async function check(argv: string[], worker?: CheckWorker): Promise<number> {
  const { values, positionals } = parseCommand(argv, { file: { type: 'string' } }, USAGE);
  if (values.help) {
    console.log(`${USAGE}\n\nChecks your exercise.ts (or --file <path>) step by step. Without an exercise: the current one.`);
    return 0;
  }
  // The progress file as it was before any of the learner's code ran.
  const before = progressText();
  const progress = parseProgress(before);
  const lesson = resolveExercise(positionals[0], progress);
  if (!lesson) {
    const total = exerciseLessons().length;
    console.log(`All exercises are done ${bar(total, total)}. Check one again with npm run check <exercise>, e.g. npm run check 01.`);
    return 0;
  }

  const own = exerciseFile(lesson);
  const given = typeof values.file === 'string' ? path.resolve(process.env.INIT_CWD ?? process.cwd(), values.file) : undefined;
  const target = given ?? own;
  if (!existsSync(target)) {
    throw new LessonError(
      given ? `there is no file at ${given}` : `${shown(own)} is missing: npm run reset ${lesson.id} -- --yes brings back the starting file`,
    );
  }
  const isOwn = path.resolve(target) === path.resolve(own);

  // tsc runs next to the check: its verdict is not the check's, but worth knowing either way.
  const types = process.env.WORKBOOK_TYPECHECK === 'off' ? Promise.resolve([]) : typeErrors(target);
  console.log(bold(`Checking ${label(lesson)}: ${shown(target)}`));
  const result = await checkExercise(lesson, target, { onStep: (step) => console.log(formatStep(step)) }, worker);
  console.log('');

  // The verdict first; then what it means for the progress file.
  const after = structuredClone(progress);
  if (result.ok) {
    console.log(green(`✓ Passed: ${label(lesson)}.`));
    if (isOwn) after.done[lesson.slug] = new Date().toISOString();
  } else {
    console.log(red(`✗ Not yet: stopped at "${result.failed?.name}".`));
  }
  const recorded = record(before, after);

  if (result.ok) {
    const total = exerciseLessons().length;
    const doneCount = exerciseLessons().filter((l) => after.done[l.slug] !== undefined).length;
    if (!isOwn) console.log(`  (Checked ${shown(target)}; progress is recorded only for your own ${shown(own)}.)`);
    else if (recorded) console.log(`  Recorded in ${shown(progressFile())} ${bar(doneCount, total)}.`);
    console.log(`  Compare notes with the reference solution: ${shown(solutionFile(lesson))}`);
    const next = nextAfter(after, lesson);
    if (next) console.log(`  Next: ${label(next)} (lesson ${next.id}: ${next.title}) — npm run next shows what to read and run.`);
    else console.log('  No exercise is left after this one: npm run progress shows them all.');
  } else {
    const again = process.env.WORKBOOK_WATCHING
      ? 'save it to check again'
      : isOwn
        ? `check again: npm run check ${lesson.id}, or npm run watch`
        : `check again: npm run check ${lesson.id} -- --file ${values.file}`;
    console.log(`  Edit ${shown(target)} and ${again}. Stuck? ${process.env.WORKBOOK_WATCHING ? 'h + Enter, or ' : ''}npm run hint ${lesson.id}`);
    if (isOwn && progress.done[lesson.slug]) {
      console.log(
        `  Your earlier pass of ${lesson.id} (${progress.done[lesson.slug].slice(0, 10)}) still stands; the file as it is now does not pass.` +
          ` (npm run progress -- --forget ${lesson.id} forgets that pass.)`,
      );
    }
  }
  const errors = await types;
  if (errors.length > 0) {
    const note = result.ok ? 'it passed, but TypeScript finds' : 'TypeScript also finds';
    console.log(`  ${note} ${errors.length === 1 ? 'a type error' : `${errors.length} type errors`} in ${shown(target)} (tsx runs it without type-checking):`);
    for (const error of errors.slice(0, 3)) console.log(`    ${error}`);
    if (errors.length > 3) console.log(`    … and ${errors.length - 3} more: npx tsc --noEmit ${shown(target)}`);
  }
  if (result.leftOpen.length > 0) {
    console.log(dim(`  note: after the check, your code still had open: ${result.leftOpen.join(', ')}`));
  }
  return result.ok ? 0 : 1;
}

/**
 * Make the progress file say `after`, whatever the checked code did to it
 * meanwhile (it may have written or deleted it): the file is written when the
 * verdict changed it or when it no longer holds what it held before the check.
 * Returns whether the file now holds `after`.
 */
function record(before: string | undefined, after: Progress): boolean {
  let now: string | undefined;
  try {
    now = progressText();
  } catch {
    now = undefined;
  }
  const changedByVerdict = formatProgress(after) !== formatProgress(parseProgress(before));
  if (!changedByVerdict && now === before) return true;
  if (now !== before) console.log(`  note: ${shown(progressFile())} changed while your code ran; it is put back as this command recorded it.`);
  try {
    if (before === undefined && !changedByVerdict) rmSync(progressFile(), { force: true, recursive: true });
    else saveProgress(after);
    return true;
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    return false;
  }
}

/** The command: check what process.argv names, and set the exit code. */
export function cli(): void {
  // The worker starts first: it loads the harness while this thread reads the arguments and files.
  const worker = new CheckWorker();
  main(process.argv.slice(2), worker).then(
    (code) => (process.exitCode = code),
    (err: unknown) => (process.exitCode = report(err, 'check')),
  );
}

if (isMain(import.meta.url)) cli();

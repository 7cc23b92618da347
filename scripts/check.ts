// `npm run check [exercise] [-- --file <path>]`: run an exercise's check
// against your exercise.ts (or another file), step by step. Without an
// exercise, checks the current one (the first not done yet).
// Exit code: 0 passed, 1 not yet, 2 a mistake in the command.
import { existsSync } from 'node:fs';
import path from 'node:path';
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
  loadProgress,
  nextAfter,
  parseCommand,
  progressFile,
  red,
  resolveExercise,
  setDone,
  shown,
  solutionFile,
  typeErrors,
} from './lib/exercises.ts';
import { report } from './lib/report.ts';

const USAGE = 'npm run check [exercise] [-- --file <path>]   e.g. npm run check 01';

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, { file: { type: 'string' } }, USAGE);
  if (values.help) {
    console.log(`${USAGE}\n\nChecks your exercise.ts (or --file <path>) step by step. Without an exercise: the current one.`);
    return 0;
  }
  const progress = loadProgress();
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

  console.log(bold(`Checking ${label(lesson)}: ${shown(target)}`));
  const result = await checkExercise(lesson, target, { onStep: (step) => console.log(formatStep(step)) });
  console.log('');

  if (result.ok) {
    if (isOwn) setDone(lesson, true);
    const after = loadProgress();
    const total = exerciseLessons().length;
    const doneCount = exerciseLessons().filter((l) => after.done[l.slug] !== undefined).length;
    console.log(
      green(`✓ Passed: ${label(lesson)}.`) +
        (isOwn
          ? ` Recorded in ${shown(progressFile())} ${bar(doneCount, total, 10)}.`
          : ` (Checked ${shown(target)}; progress is recorded only for your own ${shown(own)}.)`),
    );
    console.log(`  Compare notes with the reference solution: ${shown(solutionFile(lesson))}`);
    const next = nextAfter(after, lesson);
    if (next) console.log(`  Next: ${label(next)} (lesson ${next.id}: ${next.title}) — npm run next shows what to read and run.`);
    else console.log('  No exercise is left after this one: npm run progress shows them all.');
  } else {
    if (isOwn) setDone(lesson, false);
    console.log(red(`✗ Not yet: stopped at "${result.failed?.name}".`));
    const again = process.env.WORKBOOK_WATCHING
      ? 'save it to check again'
      : isOwn
        ? `check again: npm run check ${lesson.id}, or npm run watch`
        : `check again: npm run check ${lesson.id} -- --file ${values.file}`;
    console.log(`  Edit ${shown(target)} and ${again}. Stuck? ${process.env.WORKBOOK_WATCHING ? 'h + Enter, or ' : ''}npm run hint ${lesson.id}`);
    if (isOwn && process.env.WORKBOOK_TYPECHECK !== 'off') {
      const errors = typeErrors(target);
      if (errors.length > 0) {
        console.log(`  TypeScript also finds ${errors.length === 1 ? 'a type error' : `${errors.length} type errors`} in your file (tsx runs it without type-checking):`);
        for (const error of errors.slice(0, 3)) console.log(`    ${error}`);
      }
    }
  }
  if (result.leftOpen.length > 0) {
    console.log(dim(`  note: after the check, your code still had open: ${result.leftOpen.join(', ')}`));
  }
  return result.ok ? 0 : 1;
}

if (isMain(import.meta.url)) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (err) {
    process.exitCode = report(err, 'check');
  }

  // Backstop: the harness closes every server and socket it saw, so the process
  // normally ends here. If the learner's code left something else running (a
  // timer, say), say so and exit instead of hanging. unref(): this timer alone
  // never keeps the process alive.
  setTimeout(() => {
    const left = process.getActiveResourcesInfo().filter((r) => r !== 'Timeout' && r !== 'TTYWrap');
    console.error(`note: your code left ${left.length > 0 ? left.join(', ') : 'a timer'} running after the check; exiting anyway`);
    process.exit();
  }, 1500).unref();
}

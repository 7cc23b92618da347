// `npm run progress [-- --forget <exercise>]`: every lesson, whether its
// exercise is done, a progress bar, and the next exercise. Progress lives in
// .workbook-progress.json (ignored by git): delete it to start over.
// --forget <exercise> forgets one pass (a failing check never does).
import { LESSONS } from '../lessons/catalog.ts';
import {
  bar,
  currentExercise,
  dim,
  exerciseLessons,
  green,
  isDone,
  isMain,
  label,
  loadProgress,
  parseCommand,
  progressFile,
  resolveExercise,
  setDone,
  shown,
} from './lib/exercises.ts';
import { report } from './lib/report.ts';

const USAGE = 'npm run progress [-- --forget <exercise>]';

export function main(argv: string[]): number {
  const { values } = parseCommand(argv, { forget: { type: 'string' } }, USAGE, 0);
  if (values.help) {
    console.log(`${USAGE}\n\nShows which exercises are done and which is next. --forget <exercise> forgets that exercise's pass.`);
    return 0;
  }
  if (typeof values.forget === 'string') {
    const lesson = resolveExercise(values.forget, loadProgress())!;
    const forgotten = setDone(lesson, false);
    console.log(forgotten ? `Forgot the pass of ${label(lesson)}.\n` : `${label(lesson)} was not done: nothing to forget.\n`);
  }
  const progress = loadProgress();
  const exercises = exerciseLessons();
  const done = exercises.filter((l) => isDone(progress, l));
  const current = currentExercise(progress);
  console.log(`Progress ${bar(done.length, exercises.length)} exercises done\n`);
  const width = Math.max(...LESSONS.map((l) => l.title.length));
  for (const lesson of LESSONS) {
    const title = `${lesson.id}  ${lesson.title.padEnd(width)}`;
    if (!lesson.exercise) {
      console.log(dim(`  -  ${title} (no exercise yet)`));
    } else if (isDone(progress, lesson)) {
      console.log(`  ${green('✓')}  ${title} ${lesson.exercise.title}  ${dim(`done ${progress.done[lesson.slug].slice(0, 10)}`)}`);
    } else {
      console.log(`  ·  ${title} ${lesson.exercise.title}${lesson === current ? '   ← next' : ''}`);
    }
  }
  console.log('');
  if (current) console.log(`Next: ${current.id} · ${current.exercise.title} — npm run next shows what to read and run.`);
  else console.log('All exercises are done. npm run reset <exercise> starts one again.');
  console.log(dim(`(kept in ${shown(progressFile())}; delete it to start over)`));
  return 0;
}

if (isMain(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    process.exitCode = report(err, 'progress');
  }
}

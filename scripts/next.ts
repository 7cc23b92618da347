// `npm run next`: the first exercise not done yet, and what to read, run,
// edit and check for it.
import { bar, currentExercise, exerciseLessons, isMain, loadProgress, nextSteps, parseCommand } from './lib/exercises.ts';
import { report } from './lib/report.ts';

const USAGE = 'npm run next';

export function main(argv: string[]): number {
  const { values } = parseCommand(argv, {}, USAGE, 0);
  if (values.help) {
    console.log(`${USAGE}\n\nShows the first exercise not done yet and what to do for it.`);
    return 0;
  }
  const current = currentExercise(loadProgress());
  if (!current) {
    const total = exerciseLessons().length;
    console.log(`All exercises are done ${bar(total, total)}. npm run progress lists them; npm run reset <exercise> starts one again.`);
    return 0;
  }
  console.log(nextSteps(current));
  return 0;
}

if (isMain(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    process.exitCode = report(err, 'next');
  }
}

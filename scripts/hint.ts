// `npm run hint [exercise] [-- --all]`: the next hint for an exercise (the
// current one by default), one more each time; --all shows every hint.
// Hints never show the reference solution.
import {
  bold,
  hintsFile,
  isMain,
  label,
  loadProgress,
  parseCommand,
  readHints,
  readmeFile,
  resolveExercise,
  saveProgress,
  shown,
} from './lib/exercises.ts';
import { report } from './lib/report.ts';

const USAGE = 'npm run hint [exercise] [-- --all]   e.g. npm run hint 01';

export function main(argv: string[]): number {
  const { values, positionals } = parseCommand(argv, { all: { type: 'boolean' } }, USAGE);
  if (values.help) {
    console.log(`${USAGE}\n\nShows the next hint for an exercise (the current one without a name); --all shows them all.`);
    return 0;
  }
  const progress = loadProgress();
  const lesson = resolveExercise(positionals[0], progress);
  if (!lesson) {
    console.log('All exercises are done. For the hints of one, name it: npm run hint 01');
    return 0;
  }
  const hints = readHints(lesson);
  if (hints.length === 0) {
    console.log(`${label(lesson)} has no hints (${shown(hintsFile(lesson))}). Re-read ${shown(readmeFile(lesson))}.`);
    return 0;
  }
  if (values.all) {
    console.log(bold(`Hints for ${label(lesson)}`));
    hints.forEach((hint, i) => console.log(`\n${bold(`${i + 1}. ${hint.title}`)}\n${hint.text}`));
    return 0;
  }
  const n = Math.min((progress.hints[lesson.slug] ?? 0) + 1, hints.length);
  const hint = hints[n - 1];
  console.log(bold(`Hint ${n} of ${hints.length} for ${label(lesson)}: ${hint.title}`));
  console.log(`\n${hint.text}\n`);
  if (n < hints.length) {
    console.log(`More: npm run hint ${lesson.id} (hint ${n + 1}), or npm run hint ${lesson.id} -- --all`);
  } else {
    console.log(`That was the last hint. Re-read ${shown(readmeFile(lesson))}: the lesson's code does the same things.`);
  }
  progress.hints[lesson.slug] = n;
  saveProgress(progress);
  return 0;
}

if (isMain(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    process.exitCode = report(err, 'hint');
  }
}

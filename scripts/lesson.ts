// `npm run lesson [id] [-- flags]`: list the lessons, or run one lesson's script.
// npm starts it through scripts/bin/lesson.ts (tsx's require() hook, the
// faster start); `node --import tsx scripts/lesson.ts` works as well.
import { createRequire } from 'node:module';
import { LESSONS, findLesson, folderName, lessonDir, lessonIds } from '../lessons/catalog.ts';
import { hostWarning, parseLessonArgs, usage, type FlagSpec, type LessonOptions } from '../lessons/shared/cli.ts';
import { isMain } from './lib/exercises.ts';
import { fail, quietWhenStdoutCloses, report, reportCrashes } from './lib/report.ts';

interface LessonModule {
  main(opts: LessonOptions): Promise<void>;
  flags?: Record<string, FlagSpec>;
}

const require = createRequire(import.meta.url);

/** The command: list the lessons, or run the one process.argv names. */
export async function cli(): Promise<void> {
  quietWhenStdoutCloses();
  const [id, ...rest] = process.argv.slice(2);
  if (id === undefined || id === '--list') {
    console.log('Lessons (run one with: npm run lesson <number>):\n');
    const width = Math.max(...LESSONS.map((l) => l.title.length));
    for (const lesson of LESSONS) {
      console.log(`  ${lesson.id}  ${lesson.title.padEnd(width)}  ${lesson.summary}`);
    }
    return;
  }
  const lesson = id.startsWith('-') ? undefined : findLesson(id);
  if (!lesson) {
    const valid = LESSONS.map((l) => l.id).join(', ');
    fail(`there is no lesson "${id}": use a number (${valid}) or a name such as ${LESSONS[0].slug}; npm run lesson lists them all`);
  }
  reportCrashes(`lesson ${lesson.id}`);
  try {
    const mod = require(`${lessonDir(lesson)}lesson.ts`) as LessonModule;
    const opts = parseLessonArgs(rest, mod.flags);
    if (opts === null) {
      console.log(`npm run lesson ${lesson.id} -- [flags]   (${folderName(lesson)}, lessons ${lessonIds()})\n\n${usage(mod.flags)}`);
    } else {
      // Every lesson, every mode: a host other than loopback is allowed, with a warning.
      const warning = hostWarning(opts.host);
      if (warning) console.warn(warning);
      await mod.main(opts);
    }
  } catch (err) {
    // A lesson that failed half-way may still hold a server open: exit rather than hang.
    process.exit(report(err, `lesson ${lesson.id}`));
  }
}

if (isMain(import.meta.url)) void cli();

// `npm run bench <id>`: run a lesson's benchmark (lessons/NN-name/bench.ts) and
// print its table. `npm run bench workbook`: how long checks and the suite take
// (scripts/lib/bench-workbook.ts). Benchmarks measure speed; tests never do.
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { LESSONS, findLesson, lessonDir } from '../lessons/catalog.ts';
import { benchWorkbook } from './lib/bench-workbook.ts';
import { fail, report, reportCrashes } from './lib/report.ts';

interface BenchModule {
  bench(argv: string[]): Promise<void>;
}

const withBench = LESSONS.filter((l) => existsSync(`${lessonDir(l)}bench.ts`));
const [id, ...rest] = process.argv.slice(2);
reportCrashes(`bench ${id ?? ''}`.trim());
if (id === 'workbook') {
  try {
    await benchWorkbook(rest);
  } catch (err) {
    process.exitCode = report(err, 'bench workbook');
  }
} else {
  const lesson = id === undefined ? undefined : findLesson(id);
  if (!lesson || !withBench.includes(lesson)) {
    const valid = withBench.map((l) => `${l.id} (${l.slug})`).join(', ');
    fail(`${id === undefined ? 'name a lesson' : `lesson "${id}" has no benchmark`}: benchmarks exist for ${valid}, and for the workbook itself: npm run bench workbook`);
  }
  try {
    const mod = (await import(pathToFileURL(`${lessonDir(lesson)}bench.ts`).href)) as BenchModule;
    await mod.bench(rest);
  } catch (err) {
    process.exitCode = report(err, `bench ${lesson.id}`);
  }
}

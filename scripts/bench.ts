// `npm run bench <id>`: run a lesson's benchmark (lessons/NN-name/bench.ts) and
// print its table. Benchmarks measure speed; tests never do.
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { LESSONS, findLesson, lessonDir } from '../lessons/catalog.ts';
import { fail, report, reportCrashes } from './lib/report.ts';

interface BenchModule {
  bench(argv: string[]): Promise<void>;
}

const withBench = LESSONS.filter((l) => existsSync(`${lessonDir(l)}bench.ts`));
const [id, ...rest] = process.argv.slice(2);
const lesson = id === undefined ? undefined : findLesson(id);
if (!lesson || !withBench.includes(lesson)) {
  const valid = withBench.map((l) => `${l.id} (${l.slug})`).join(', ');
  fail(`${id === undefined ? 'name a lesson' : `lesson "${id}" has no benchmark`}: benchmarks exist for ${valid}; e.g. npm run bench ${withBench[0]?.id ?? '04'}`);
}
reportCrashes(`bench ${lesson.id}`);
try {
  const mod = (await import(pathToFileURL(`${lessonDir(lesson)}bench.ts`).href)) as BenchModule;
  await mod.bench(rest);
} catch (err) {
  process.exitCode = report(err, `bench ${lesson.id}`);
}

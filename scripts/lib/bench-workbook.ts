// `npm run bench workbook [-- --runs <n>] [--suite]`: how long a learner waits.
// For every exercise: `npm run check NN -- --file <reference>` as a learner
// types it (npm included), with the time until the verdict line and until the
// command ends. With --suite, also `npm test` as a whole. Medians of whole
// processes: nothing here is timed from inside.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, positiveInt } from '../../lessons/shared/cli.ts';
import { median } from '../../lessons/shared/check/index.ts';
import { ROOT, exerciseLessons, solutionFile } from './exercises.ts';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface Timing {
  /** ms until the first line matching `until` */
  verdict: number;
  /** ms until the process ended */
  total: number;
  code: number | null;
}

/** Run a command; time the first output line matching `until`, and the end. */
function time(args: string[], until: RegExp, env: NodeJS.ProcessEnv = {}): Promise<Timing> {
  return new Promise((resolve) => {
    const started = performance.now();
    let verdict = Number.NaN;
    let output = '';
    const child = spawn(npm, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      output += text;
      if (Number.isNaN(verdict) && until.test(output)) verdict = performance.now() - started;
    });
    child.on('close', (code) => resolve({ verdict, total: performance.now() - started, code }));
  });
}

const ms = (n: number) => (Number.isNaN(n) ? '-' : `${Math.round(n)} ms`);

export async function benchWorkbook(argv: string[]): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: { runs: { type: 'string' }, suite: { type: 'boolean' } }, strict: true }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0]}. Flags: --runs <n> (default 7), --suite`);
  }
  const runs = positiveInt('runs', values.runs, 7, 100);
  console.log(`npm run check <id> -- --file <reference>, ${runs} runs each (median; Node ${process.version}, ${process.platform} ${process.arch})\n`);
  console.log(`${'exercise'.padEnd(34)} ${'verdict'.padStart(9)} ${'command'.padStart(9)}`);
  const verdicts: number[] = [];
  for (const lesson of exerciseLessons()) {
    const file = path.relative(ROOT, solutionFile(lesson));
    const timings: Timing[] = [];
    for (let i = 0; i < runs; i += 1) {
      timings.push(await time(['run', '-s', 'check', '--', lesson.id, '--file', file], /^✓ Passed|^✗ Not yet/m, { WORKBOOK_PROGRESS: path.join(ROOT, '.cache', 'bench-progress.json') }));
    }
    const failed = timings.filter((t) => t.code !== 0).length;
    const verdict = median(timings.map((t) => t.verdict));
    verdicts.push(verdict);
    const note = failed > 0 ? `  (${failed} of ${runs} runs did not pass!)` : '';
    console.log(`${`${lesson.id} · ${lesson.exercise.title}`.padEnd(34)} ${ms(verdict).padStart(9)} ${ms(median(timings.map((t) => t.total))).padStart(9)}${note}`);
  }
  console.log(`${'median of the medians'.padEnd(34)} ${ms(median(verdicts)).padStart(9)}`);

  if (values.suite) {
    console.log('\nnpm test (whole suite), one run:');
    const suite = await time(['test'], /^ℹ duration_ms/m);
    console.log(`  ${ms(suite.total)} (exit code ${suite.code})`);
  }
}

// `npm run reset <exercise> [-- --yes]`: put an exercise's exercise.ts back to
// its starting state. The starting file is kept in the repo as
// lessons/NN-name/solution/stub.ts, so this works without git. Your version
// is saved next to it first as exercise.ts.<time>.bak, so a reset never loses
// work. It asks before it acts; without a terminal to ask in, it needs --yes.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { UsageError } from '../lessons/shared/cli.ts';
import { exerciseFile, isMain, label, loadProgress, parseCommand, resolveExercise, setDone, shown, stubFile } from './lib/exercises.ts';
import { report } from './lib/report.ts';

const USAGE = 'npm run reset <exercise> [-- --yes]   e.g. npm run reset 01';

/** exercise.ts.2026-05-01-142233.bak: the time of the reset, never an existing name. */
function backupName(target: string): string {
  const stamp = new Date().toISOString().slice(0, 19).replace('T', '-').replace(/:/g, '');
  for (let n = 1; ; n += 1) {
    const name = `${target}.${stamp}${n > 1 ? `-${n}` : ''}.bak`;
    if (!existsSync(name)) return name;
  }
}

function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: false });
  process.stdout.write(question);
  return new Promise((resolve) => {
    let answered = false;
    rl.once('line', (answer) => {
      answered = true;
      rl.close();
      resolve(/^y(es)?$/i.test(answer.trim()));
    });
    rl.once('close', () => {
      if (!answered) {
        process.stdout.write('\n');
        resolve(false);
      }
    });
  });
}

/** `interactive`: whether there is a terminal to ask in (tests pass false). */
export async function main(argv: string[], interactive = process.stdin.isTTY === true): Promise<number> {
  const { values, positionals } = parseCommand(argv, { yes: { type: 'boolean' } }, USAGE);
  if (values.help) {
    console.log(`${USAGE}\n\nPuts exercise.ts back to its starting state; your version is saved as a .bak file next to it.`);
    return 0;
  }
  if (positionals[0] === undefined) throw new UsageError(`name the exercise to reset — usage: ${USAGE}`);
  const lesson = resolveExercise(positionals[0], loadProgress());
  if (!lesson) throw new UsageError(`name the exercise to reset — usage: ${USAGE}`);

  const stub = readFileSync(stubFile(lesson));
  const target = exerciseFile(lesson);
  const current = existsSync(target) ? readFileSync(target) : undefined;
  if (current?.equals(stub)) {
    setDone(lesson, false);
    console.log(`${shown(target)} is already at its starting state: nothing to do.`);
    return 0;
  }
  const backup = current ? backupName(target) : undefined;

  if (!values.yes) {
    if (!interactive) {
      throw new UsageError(`reset replaces your ${shown(target)} and asks first, but there is no terminal to ask in: add --yes (npm run reset ${lesson.id} -- --yes)`);
    }
    const keep = backup ? ` Your version will be kept as ${path.basename(backup)}.` : '';
    if (!(await confirm(`Reset ${shown(target)} (${label(lesson)}) to its starting state?${keep} [y/N] `))) {
      console.log('Nothing changed.');
      return 1;
    }
  }

  // 'wx': never overwrite an earlier backup.
  if (backup && current) writeFileSync(backup, current, { flag: 'wx' });
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, stub);
  setDone(lesson, false);
  console.log(`Reset ${shown(target)} to its starting state.`);
  if (backup) console.log(`Your version is saved as ${shown(backup)}.`);
  return 0;
}

if (isMain(import.meta.url)) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (err) {
    process.exitCode = report(err, 'reset');
  }
}

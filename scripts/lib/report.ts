// One-line errors for the workbook's commands: what is wrong, what to do, and
// a non-zero exit code. Stacks only with DEBUG=1.
import { LessonError, UsageError } from '../../lessons/shared/cli.ts';

export function fail(message: string, code = 2): never {
  console.error(`error: ${message}`);
  process.exit(code);
}

/** Exit code for an error: 2 for usage mistakes, 1 for everything else. */
export function report(err: unknown, what: string): number {
  if (process.env.DEBUG) console.error(err);
  if (err instanceof UsageError) {
    console.error(`error: ${err.message}`);
    return 2;
  }
  if (err instanceof LessonError) {
    console.error(`error: ${err.message}`);
    return 1;
  }
  const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
  console.error(`error: ${what} failed: ${message}${process.env.DEBUG ? '' : ' (run with DEBUG=1 to see the stack)'}`);
  return 1;
}

/**
 * `npm run lesson 08 | head` closes the pipe early: end quietly, not with an
 * EPIPE error. Every command calls this first.
 */
export function quietWhenStdoutCloses(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit();
    throw err;
  });
}

/** Turn a crash anywhere in the process into one line instead of a stack trace. */
export function reportCrashes(what: string): void {
  const onCrash = (err: unknown) => {
    process.exitCode = report(err, what);
    process.exit();
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
}

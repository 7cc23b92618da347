// Running a check in this process. The commands run it in a worker instead
// (isolated.ts), where learner code that never gives control back can be stopped.
import { pathToFileURL } from 'node:url';
import { Check } from './context.ts';
import { explainError, explainImportError } from './explain.ts';
import { CHECK_DEADLINE, CheckFailure, LOAD_TIMEOUT, StepFailed, fail, type CheckDefinition, type CheckResult, type RunOptions, type StepResult } from './results.ts';
import { Tracker, resourceCounts, resourceDiff } from './tracker.ts';

let running = false;
let loads = 0;

/** A new query each time: a file checked again in the same process is loaded afresh. */
function freshImport(file: string): Promise<Record<string, unknown>> {
  loads += 1;
  return import(`${pathToFileURL(file).href}?check=${loads}`) as Promise<Record<string, unknown>>;
}

/**
 * Run `definition` against the learner's `file`. Never throws: every problem
 * becomes a failed step. Everything opened meanwhile is closed before it
 * returns. Not re-entrant: run one check at a time per process.
 */
export async function runCheck(
  // A check for any exercise module: the module's type only matters inside the check.
  definition: CheckDefinition<any>,
  file: string,
  options: RunOptions = {},
): Promise<CheckResult> {
  if (running) throw new Error('runCheck: a check is already running in this process');
  running = true;
  const baseline = resourceCounts();
  const tracker = new Tracker();
  const check = new Check<unknown>(file, tracker, baseline, options);
  tracker.install();
  let deadline: NodeJS.Timeout | undefined;
  try {
    const body = (async () => {
      await check.step('loading your file', async (s) => {
        s.timeoutMessage = 'your file took too long to load: does it wait for something at its top level?';
        try {
          check.module = await (options.load ?? freshImport)(file);
        } catch (err) {
          fail(explainImportError(err, file));
        }
        // A file compiled as CommonJS shows its exports under `default`.
        const fallback = check.module.default;
        if (fallback && typeof fallback === 'object') check.module = { ...(fallback as Record<string, unknown>), ...check.module };
      }, { timeout: LOAD_TIMEOUT });
      await definition.run(check);
    })();
    const limit = check.scaled(options.deadline ?? CHECK_DEADLINE);
    const overtime = new Promise<never>((_, reject) => {
      deadline = setTimeout(() => reject(new CheckFailure(`the check did not finish within ${limit} ms (a step waited outside its own timeout)`)), limit);
    });
    check.ownTimer(1);
    body.catch(() => {});
    await Promise.race([body, overtime]);
  } catch (err) {
    if (!(err instanceof StepFailed)) {
      const result: StepResult = { name: 'running the check', status: 'failed', ms: 0, ...explainError(err, file) };
      check.steps.push(result);
      options.onStep?.(result);
    }
  } finally {
    clearTimeout(deadline);
    check.clearOwnTimers();
    await tracker.cleanup();
    await tracker.settle(baseline);
    tracker.uninstall();
    running = false;
  }
  const failed = check.steps.find((s) => s.status === 'failed');
  return { ok: failed === undefined, file, steps: check.steps, failed, leftOpen: resourceDiff(baseline, 0) };
}

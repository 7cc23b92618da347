// Failures, results and the shape of a check: what every other file here uses.
import type { Check } from './context.ts';

export const HOST = '127.0.0.1';
/** Default time a step may take. Loopback events take milliseconds; this is for slow, busy machines. */
export const STEP_TIMEOUT = 2000;
/** Loading compiles the learner's file: the first compile on a slow machine can take seconds. */
export const LOAD_TIMEOUT = 20_000;
/** The whole check is stopped after this long, whatever happens (a backstop). */
export const CHECK_DEADLINE = 60_000;

// ── failures ──────────────────────────────────────────────────────────────

export interface FailureDetails {
  /** what the check wanted, e.g. a quoted text or an event order */
  expected?: string;
  /** what it got */
  actual?: string;
}

/** Thrown by a check to fail the current step with a message the learner can act on. */
export class CheckFailure extends Error {
  override name = 'CheckFailure';
  readonly expected?: string;
  readonly actual?: string;
  constructor(message: string, details: FailureDetails = {}) {
    super(message);
    this.expected = details.expected;
    this.actual = details.actual;
  }
}

/** Fail the current step. */
export function fail(message: string, details?: FailureDetails): never {
  throw new CheckFailure(message, details);
}

export class SkipStep extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

export class StepTimeout extends Error {}

/** Internal: a step failed and the check stops. */
export class StepFailed extends Error {
  constructor(readonly result: StepResult) {
    super(result.message);
  }
}

// ── results ───────────────────────────────────────────────────────────────

export interface StepResult {
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  ms: number;
  /** why it failed, or why it was skipped */
  message?: string;
  expected?: string;
  actual?: string;
  /** set when the step ran out of time */
  timedOutAfter?: number;
  /** what was still open when the step timed out */
  open?: string[];
}

export interface CheckResult {
  ok: boolean;
  file: string;
  steps: StepResult[];
  /** the step that failed, if any */
  failed?: StepResult;
  /** handles the learner's code left behind that the harness could not close (e.g. timers) */
  leftOpen: string[];
}

export interface RunOptions {
  /** multiply every step timeout (also read from WORKBOOK_CHECK_TIMEOUT_SCALE) */
  timeoutScale?: number;
  /** called as each step ends, for live output */
  onStep?: (step: StepResult) => void;
  /** called as each step starts (the isolated runner's watchdog uses it) */
  onStepStart?: (name: string, timeout: number) => void;
  /** loads the learner's file (default: a fresh import()) */
  load?: (file: string) => Promise<Record<string, unknown>>;
  /** overall backstop in ms (default CHECK_DEADLINE, scaled) */
  deadline?: number;
}

// ── steps ─────────────────────────────────────────────────────────────────

/** Handed to every step function. Set `expected`/`actual` so a timeout can say what was missing. */
export interface Step {
  readonly name: string;
  /** the step's timeout in ms (already scaled) */
  readonly timeout: number;
  /** what the step waits for; shown when it times out */
  expected?: string;
  /** what has happened so far; called and shown when it times out */
  actual?: () => string;
  /** the first line shown when it times out (default: "nothing happened within N ms") */
  timeoutMessage?: string;
  /** end this step as skipped (e.g. the platform does not show the effect); the check goes on */
  skip(reason: string): never;
}

export interface StepOptions {
  /** ms before the step fails (default STEP_TIMEOUT) */
  timeout?: number;
  /** skip the step without running it, with this reason */
  skip?: string | false;
}

export interface CheckDefinition<M> {
  readonly run: (c: Check<M>) => Promise<void>;
}

/** Declare a check. `M` is the exercise module's type: `import type * as Exercise from './exercise.ts'`. */
export function defineCheck<M = Record<string, unknown>>(run: (c: Check<M>) => Promise<void>): CheckDefinition<M> {
  return { run };
}

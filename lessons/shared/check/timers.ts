// Which callback is running: a timer the learner's code armed, or something
// else. A promise of the learner's that settles inside one of its own timers
// settled because time passed, not because of an event: the mistake of
// "waiting a fixed time instead of for the event", caught however busy the
// machine is (counting time or turns of the event loop is not).
import { createHook } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

/** A timer the learner's code armed. setTimeout, setInterval, socket.setTimeout, timers/promises and AbortSignal.timeout all make one. */
export interface LearnerTimer {
  /** its delay in ms */
  ms: number;
  armedAt: number;
  /** when its callback last started */
  firedAt?: number;
  /** Node's Timeout object: `_destroyed` once it has fired (and will not repeat) or was cleared */
  resource: { _destroyed?: boolean };
}

/**
 * Knows which callback is running: a timer the learner's code armed, or
 * anything else (a socket event, the check's own timers). A promise that
 * settles inside a learner's timer settled because time passed, not because
 * of an event. Built on async_hooks: every callback Node runs is announced
 * ('before'); process.nextTick callbacks and promise reactions run inside the
 * callback that queued them, so they do not count as a new one.
 */
export class LearnerTimers {
  /** the learner's timer whose callback is running, or undefined */
  current?: LearnerTimer;
  readonly #types = new Map<number, string>();
  readonly #timers = new Map<number, LearnerTimer>();
  readonly #hook;

  constructor(learnerFile: string) {
    const places = [learnerFile, pathToFileURL(learnerFile).href];
    this.#hook = createHook({
      init: (id, type, _trigger, resource) => {
        if (type === 'PROMISE') return;
        this.#types.set(id, type);
        if (type === 'Timeout' && calledFrom(places)) {
          const timeout = resource as { _idleTimeout?: number; _destroyed?: boolean };
          this.#timers.set(id, { ms: timeout._idleTimeout ?? NaN, armedAt: performance.now(), resource: timeout });
        }
      },
      before: (id) => {
        const timer = this.#timers.get(id);
        if (timer) {
          timer.firedAt = performance.now();
          this.current = timer;
          return;
        }
        const type = this.#types.get(id);
        if (type !== undefined && type !== 'TickObject' && type !== 'Microtask') this.current = undefined;
      },
      destroy: (id) => {
        this.#types.delete(id);
      },
    });
    this.#hook.enable();
  }

  /** True while a timer the learner's code armed can still go off. */
  get timersPending(): boolean {
    return [...this.#timers.values()].some((timer) => timer.resource._destroyed === false);
  }

  stop(): void {
    this.#hook.disable();
  }
}

/** True when the code running now was called from the learner's file. */
function calledFrom(places: string[]): boolean {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 50;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  return places.some((place) => stack.includes(place));
}

// ── the learner's promise ─────────────────────────────────────────────────

// Following what the learner's code does over time: a promise it returned,
// and small waits the checks share.
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { show } from './format.ts';
import type { Signal } from './recorder.ts';

export type Outcome = { state: 'pending' } | { state: 'resolved'; value: unknown } | { state: 'rejected'; reason: unknown };

/**
 * Where a promise of the learner's stands: `outcome`, and `settledAt`
 * (performance.now()) once it settled. `changed` is notified then, and
 * `onSettle` runs first (to note what else was true at that moment).
 */
export class Follow {
  outcome: Outcome = { state: 'pending' };
  settledAt = Number.NaN;

  constructor(promise: PromiseLike<unknown>, changed?: Signal, onSettle?: (follow: Follow) => void) {
    const settle = (outcome: Outcome) => {
      this.outcome = outcome;
      this.settledAt = performance.now();
      onSettle?.(this);
      changed?.notify();
    };
    Promise.resolve(promise).then(
      (value) => settle({ state: 'resolved', value }),
      (reason: unknown) => settle({ state: 'rejected', reason }),
    );
  }

  get settled(): boolean {
    return this.outcome.state !== 'pending';
  }

  /** "your promise resolved with …" (values shown with `format`) */
  describe(format: (value: unknown) => string = show): string {
    const o = this.outcome;
    if (o.state === 'pending') return 'your promise is still pending';
    if (o.state === 'resolved') return `your promise resolved with ${format(o.value)}`;
    return `your promise rejected with ${describeReason(o.reason)}`;
  }
}

/** A rejection reason as the learner should read it: name, message and code. */
export function describeReason(reason: unknown): string {
  if (!(reason instanceof Error)) return show(reason);
  const code = (reason as NodeJS.ErrnoException).code;
  return `${reason.name}: ${show(reason.message)}${code === undefined ? ' (no code)' : ` (code ${show(code)})`}`;
}

/** One turn of the event loop: 'data' events and promise callbacks already due have run after it. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Wait until `reader()` (the learner's socket at the other end of `peer`) has read `bytes`
 * bytes, or either socket is gone, or `stop()`; then a few more turns, so that what the
 * learner's 'data' listener does with them has run.
 */
export async function readBy(reader: () => net.Socket | undefined, peer: net.Socket, bytes: number, stop: () => boolean): Promise<void> {
  for (;;) {
    const socket = reader();
    if (!socket || socket.bytesRead >= bytes || socket.destroyed || peer.destroyed || stop()) break;
    await turn();
  }
  for (let i = 0; i < 3; i += 1) await turn();
}

/** Write and wait until Node has handed the bytes to the kernel (or failed to). */
export function handedOver(socket: net.Socket, bytes: string | Buffer): Promise<void> {
  return new Promise((resolve) => socket.write(bytes, () => resolve()));
}

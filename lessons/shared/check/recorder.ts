// What a socket of the check received (Recorder), and conditions that the
// check's own listeners make true (Signal).
import type net from 'node:net';
import { CheckFailure } from './results.ts';
import { formatBytes, show } from './format.ts';

export interface RecordOptions {
  /** keep the bytes (default true); false only counts them */
  keepBytes?: boolean;
  /**
   * The most bytes the check needs from this peer. One byte more and the check
   * stops reading (it destroys the socket) and fails the step, so an answer that
   * sends without end cannot fill the check's memory. Default: MAX_KEPT when
   * bytes are kept, no limit when they are only counted.
   */
  maxBytes?: number;
  /** who sends, for that failure: "your server sent 2000000 bytes where 29 were expected" */
  from?: string;
}

/** The most bytes a recorder keeps unless its check says otherwise. */
export const MAX_KEPT = 1024 * 1024;

/** What one socket received: bytes, FIN, close and error, in order. */
export class Recorder {
  /** event names in the order they happened: data, end, close, error:CODE */
  readonly events: string[] = [];
  received = 0;
  gotEnd = false;
  gotClose = false;
  error?: NodeJS.ErrnoException;
  /** set once the peer sent more than maxBytes: every wait() then fails with it */
  overflow?: CheckFailure;
  #chunks: Buffer[] = [];
  readonly #keep: boolean;
  readonly #max: number;
  readonly #waiters = new Set<() => void>();

  constructor(readonly socket: net.Socket, options: RecordOptions = {}) {
    this.#keep = options.keepBytes ?? true;
    this.#max = options.maxBytes ?? (this.#keep ? MAX_KEPT : Infinity);
    const from = options.from ?? 'your code';
    socket.on('data', (chunk: Buffer | string) => {
      if (this.overflow) return;
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      this.received += buf.length;
      if (this.received > this.#max) {
        this.overflow = new CheckFailure(`${from} sent ${this.received} bytes where ${this.#max} were expected: the check stopped reading there`, {
          expected: formatBytes(this.#max),
          actual: `${formatBytes(this.received)} and more on the way`,
        });
        socket.destroy();
        this.#changed();
        return;
      }
      if (this.#keep) this.#chunks.push(buf);
      if (this.events.at(-1) !== 'data') this.events.push('data');
      this.#changed();
    });
    socket.on('end', () => {
      this.gotEnd = true;
      this.events.push('end');
      this.#changed();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error = err;
      this.events.push(`error:${err.code ?? err.message}`);
      this.#changed();
    });
    socket.on('close', () => {
      this.gotClose = true;
      this.events.push('close');
      this.#changed();
    });
  }

  get bytes(): Buffer {
    // Joined once per read, not once per chunk.
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }

  get text(): string {
    return this.bytes.toString('utf8');
  }

  #changed(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /**
   * Resolve when `done(this)` is true (checked now and after every event).
   * Fails at once if the connection closes first, instead of waiting for a timeout.
   */
  wait(done: (r: Recorder) => boolean, what = 'the expected bytes'): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.overflow) {
          this.#waiters.delete(check);
          reject(this.overflow);
        } else if (done(this)) {
          this.#waiters.delete(check);
          resolve();
        } else if (this.gotClose) {
          this.#waiters.delete(check);
          reject(new CheckFailure(`the connection closed before ${what} arrived`, { actual: this.describe() }));
        }
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Wait until the text received so far makes `done` true. */
  untilText(done: (text: string) => boolean, what?: string): Promise<void> {
    return this.wait((r) => done(r.text), what);
  }

  /** Wait for the peer's FIN ('end'). */
  untilEnd(): Promise<void> {
    return this.wait((r) => r.gotEnd, "the peer's FIN");
  }

  /** One line: bytes received (quoted when kept), FIN or not, error. */
  describe(): string {
    const parts = [this.received === 0 ? 'nothing received (0 B)' : this.#keep ? `received ${show(this.bytes)}` : `received ${formatBytes(this.received)}`];
    parts.push(this.gotEnd ? 'then a FIN' : 'no FIN');
    if (this.overflow) parts.push('more than the check needed, so it stopped reading');
    if (this.error) parts.push(`error ${this.error.code ?? this.error.message}`);
    if (this.gotClose && !this.gotEnd && !this.error) parts.push('closed');
    return parts.join(', ');
  }
}

/**
 * Wait for a condition that your own listeners make true: call notify() from
 * them (e.g. in a 'connection' listener) and `until()` re-checks.
 */
export class Signal {
  readonly #waiters = new Set<() => void>();

  notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Resolve when `done()` returns true; reject if it throws (e.g. fail(...)). Checked now and on every notify(). */
  until(done: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        try {
          if (!done()) return;
          this.#waiters.delete(check);
          resolve();
        } catch (err) {
          this.#waiters.delete(check);
          reject(err);
        }
      };
      this.#waiters.add(check);
      check();
    });
  }
}


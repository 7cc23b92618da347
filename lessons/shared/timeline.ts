// Records what the client and the server did during one run and draws it as a
// two-column timeline. Every row comes from an event seen in that very run.
import type { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';

export type Side = 'client' | 'server';

export interface TimelineEvent {
  /** milliseconds since the timeline started */
  ms: number;
  side: Side;
  /** an event name (`data`) or a method call (`write()`) */
  name: string;
  detail: string;
  /** true when something crosses the wire to the other side */
  sends: boolean;
}

export interface TimelineOptions {
  /** print every event as it happens (used by `--serve`) */
  live?: boolean;
  /**
   * The most events kept (and, when live, printed): a server that runs for
   * days must not keep every event for ever. Later events are only counted,
   * and the timeline says so once. Default MAX_EVENTS.
   */
  limit?: number;
  /** where live lines go; defaults to console.log */
  print?: (line: string) => void;
}

/** Socket events worth showing, in the order a learner meets them. */
export const SOCKET_EVENTS = [
  'connect', 'ready', 'data', 'end', 'finish', 'drain', 'timeout', 'error', 'close',
] as const;
export type SocketEventName = (typeof SOCKET_EVENTS)[number];

/** Events a timeline keeps unless told otherwise. */
export const MAX_EVENTS = 1000;

const COLUMN = 34; // width of the client column
const GAP = 3;

export class Timeline {
  readonly events: TimelineEvent[] = [];
  /** events that came after the limit: counted, not kept */
  dropped = 0;
  readonly #start = performance.now();
  readonly #live: boolean;
  readonly #limit: number;
  readonly #print: (line: string) => void;

  constructor(options: TimelineOptions = {}) {
    this.#live = options.live ?? false;
    this.#limit = options.limit ?? MAX_EVENTS;
    this.#print = options.print ?? ((line) => console.log(line));
  }

  /**
   * Record one event; returns false once the timeline is full (the event is
   * only counted). `detail` may be a function: it is then called only for an
   * event that is kept, so a busy server does no work for events not drawn.
   */
  add(side: Side, name: string, detail: string | (() => string) = '', sends = false): boolean {
    if (this.events.length >= this.#limit) {
      this.dropped += 1;
      if (this.dropped === 1 && this.#live) {
        this.#print(`(the timeline stops drawing here, after ${this.#limit} events; the server keeps running)`);
      }
      return false;
    }
    const text = typeof detail === 'function' ? detail() : detail;
    const event: TimelineEvent = { ms: performance.now() - this.#start, side, name, detail: text, sends };
    this.events.push(event);
    if (this.#live) this.#print(liveLine(event));
    return true;
  }

  client(name: string, detail?: string | (() => string)): boolean {
    return this.add('client', name, detail);
  }

  server(name: string, detail?: string | (() => string)): boolean {
    return this.add('server', name, detail);
  }

  /** Names of the recorded events of one side, in order (handy in tests). */
  names(side: Side): string[] {
    return this.events.filter((e) => e.side === side).map((e) => e.name);
  }

  /**
   * Record a socket's events, and its write() and end() calls as arrows to the
   * other side. Watching 'data' does not make the socket read (a prepended
   * listener does not start the flow): the lesson's own reading does, and the
   * timeline then sees every chunk.
   */
  watch(
    socket: EventEmitter & { write: Function; end: Function },
    side: Side,
    events: readonly SocketEventName[] = SOCKET_EVENTS,
    /** names the socket in every row ("A connect") when several share a side */
    label?: string,
  ): void {
    const add = (name: string, detail: () => string, sends = false) => this.add(side, label ? `${label} ${name}` : name, detail, sends);
    for (const name of events) {
      // Prepended, so the event is recorded before the lesson's own listeners react to it.
      socket.prependListener(name, (arg?: unknown) => {
        if (name === 'close') add('close', () => `hadError: ${arg === true}`);
        else if (name === 'error') add('error', () => (arg as NodeJS.ErrnoException).code ?? String(arg));
        else add(name, () => describe(arg));
      });
    }
    record(socket, 'write', (args) => add('write()', () => describe(args[0]), true));
    record(socket, 'end', (args) => {
      const data = typeof args[0] === 'function' ? undefined : args[0];
      if (data !== undefined) add('write()', () => describe(data), true);
      add('end()', () => 'FIN', true);
    });
  }

  /** Draw the whole timeline: time, client column, arrows, server column. */
  render(): string {
    const rows = [
      `${'ms'.padStart(8)}  ${'client'.padEnd(COLUMN)}${' '.repeat(GAP)}server`,
      `${'─'.repeat(8)}  ${'─'.repeat(COLUMN)}${' '.repeat(GAP)}${'─'.repeat(COLUMN)}`,
    ];
    for (const event of this.events) rows.push(row(event));
    if (this.dropped > 0) rows.push(`${' '.repeat(10)}… and ${this.dropped} more events, not drawn (the limit is ${this.#limit})`);
    return rows.join('\n');
  }
}

/**
 * Call `before` on every call of socket[method], then the method itself. An
 * accessor, because Node swaps socket.write for its own function after the
 * peer's FIN (allowHalfOpen: false): the swap replaces what we call, not us.
 */
function record(socket: object, method: 'write' | 'end', before: (args: unknown[]) => void): void {
  let current = (socket as Record<string, Function>)[method];
  const wrapper = function (this: unknown, ...args: unknown[]) {
    before(args);
    return current.apply(this, args);
  };
  Object.defineProperty(socket, method, {
    configurable: true,
    enumerable: false,
    get: () => wrapper,
    set: (fn: Function) => {
      current = fn;
    },
  });
}

function row(event: TimelineEvent): string {
  const time = event.ms.toFixed(1).padStart(8);
  const text = `${event.name} ${event.detail}`.trimEnd();
  if (event.side === 'client') {
    if (!event.sends) return `${time}  ${fit(text, COLUMN)}`.trimEnd();
    // An arrow from the client's text across to the server column.
    const cell = fit(text, COLUMN - 3).trimEnd();
    return `${time}  ${cell} ${'─'.repeat(COLUMN - width(cell) + GAP - 2)}▶`;
  }
  const cell = fit(text, COLUMN);
  const lead = event.sends ? `◀${'─'.repeat(COLUMN + GAP - 2)} ` : ' '.repeat(COLUMN + GAP);
  return `${time}  ${lead}${cell}`.trimEnd();
}

function liveLine(event: TimelineEvent): string {
  const to = event.sends ? `  ──▶ ${event.side === 'client' ? 'server' : 'client'}` : '';
  return `${event.ms.toFixed(1).padStart(8)}  ${event.side.padEnd(6)}  ${`${event.name} ${event.detail}`.trimEnd()}${to}`;
}

/**
 * Short, printable description of a payload: text as a quoted string with its
 * byte count, anything else as its first bytes in hex with the byte count.
 */
export function describe(detail: unknown): string {
  if (detail === undefined || detail === null) return '';
  if (typeof detail === 'string' || detail instanceof Uint8Array) {
    const bytes = typeof detail === 'string' ? Buffer.from(detail) : Buffer.from(detail);
    const text = typeof detail === 'string' ? detail : bytes.toString('utf8');
    if (!isPrintable(text) || (typeof detail !== 'string' && text.includes('\ufffd'))) {
      const hex = bytes.subarray(0, 6).toString('hex').replace(/(..)(?!$)/g, '$1 ');
      return `<${hex}${bytes.length > 6 ? ' …' : ''}> ${bytes.length} B`;
    }
    return `${JSON.stringify(text.length > 18 ? `${text.slice(0, 17)}…` : text)} ${bytes.length} B`;
  }
  return String(detail);
}

function isPrintable(text: string): boolean {
  // Control characters other than tab, CR and LF mean "this is not text".
  return !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text);
}

/** Terminal width of a string: CJK characters take two cells. */
export function width(text: string): number {
  let cells = 0;
  for (const ch of text) cells += isWide(ch.codePointAt(0) ?? 0) ? 2 : 1;
  return cells;
}

function isWide(code: number): boolean {
  return (
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6)
  );
}

/** Cut or pad `text` to exactly `cells` terminal cells. */
function fit(text: string, cells: number): string {
  if (width(text) <= cells) return text + ' '.repeat(cells - width(text));
  let out = '';
  for (const ch of text) {
    if (width(out + ch) > cells - 1) break;
    out += ch;
  }
  return out + '…' + ' '.repeat(cells - 1 - width(out));
}

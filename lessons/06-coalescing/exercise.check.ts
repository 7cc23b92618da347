// The check for exercise 06: run it with `npm run check 06`.
// It feeds the learner's LineSplitter the same lines cut every way, then over
// a real socket, and compares only the lines that come out: never the chunks.
import { CheckFailure, chunkings, defineCheck, fail, piecesOf, seededRandom, show, splitRandomly } from '../shared/check/index.ts';
import type * as Exercise from './exercise.ts';

type Splitter = InstanceType<typeof Exercise.LineSplitter>;

// What is sent: 3- and 4-byte characters, empty lines, \r\n as telnet sends
// it, and spaces and \r characters that belong to a line: only one \r, the
// one just before the \n, is not part of the line.
const MESSAGES = [
  'hello\n',
  '你好\n',
  '\n',
  'sent by telnet\r\n',
  '  two spaces first\n',
  'emoji 😀 are 4 bytes\n',
  '\r\n',
  'café, 你好, 🌍!\n',
  'a \r inside stays\n',
  'one \r of two stays\r\r\n',
  'a space last \n',
  'the end\n',
];
const LINES = MESSAGES.map((m) => m.replace(/\r?\n$/, ''));
const BYTES = Buffer.from(MESSAGES.join(''));

const SEED = 1;
const RANDOM_SPLITS = 3;
const CUTS = chunkings(MESSAGES, { randomSplits: RANDOM_SPLITS, seed: SEED });

const cut = (name: string) => piecesOf(CUTS, name);

/** Random pieces of 1 to 7 characters: lines are cut anywhere, characters never. */
function splitBetweenCharacters(text: string, random: () => number): Buffer[] {
  const characters = Array.from(text); // code points: 😀 stays whole
  const pieces: Buffer[] = [];
  for (let i = 0; i < characters.length; ) {
    const size = 1 + Math.floor(random() * 7);
    pieces.push(Buffer.from(characters.slice(i, i + size).join('')));
    i += size;
  }
  return pieces;
}

// A second stream, for two LineSplitters at once (two connections of one server).
const OTHER = ['second stream, 第二\n', '\n', 'ä ö ü 😀 end\r\n', 'last of the second\n'];
const OTHER_LINES = OTHER.map((m) => m.replace(/\r?\n$/, ''));

// Over a socket: more lines, written in random pieces, one per turn of the event loop.
const ROUNDS = 8;
const SOCKET_BYTES = Buffer.concat(Array.from({ length: ROUNDS }, () => BYTES));
const SOCKET_LINES = Array.from({ length: ROUNDS }, () => LINES).flat();
const SOCKET_PIECES = splitRandomly(SOCKET_BYTES, seededRandom(6), 48);

// The size limit: lines of exactly LIMIT bytes pass, longer ones are refused.
const LIMIT = 16;
const EXACT = ['sixteen bytes ok', '你好你好你!']; // 16 bytes each (你 and 好 are 3 bytes)
const OVER = '你好你好你好'; // 18 bytes, but only 6 characters
const ENDLESS_MAX = 4096; // how far the check feeds a line without \n before giving up

/** push()'s result, checked to be an array of strings. */
function returned(value: unknown): string[] {
  if (!Array.isArray(value)) fail(`push() returned ${show(value)}; expected an array of the lines the chunk completed ([] when none)`);
  for (const item of value) {
    if (typeof item !== 'string') {
      fail(`push() returned an array holding ${Buffer.isBuffer(item) ? `a Buffer ${show(item)}` : show(item)}; expected only strings: each line as text`);
    }
  }
  return value as string[];
}

/** Push every piece in order; the lines returned, all together. */
function pushAll(splitter: Splitter, pieces: readonly Buffer[]): string[] {
  const lines: string[] = [];
  for (const piece of pieces) lines.push(...returned(splitter.push(piece)));
  return lines;
}

/** Fail unless the lines are the ones sent, saying which line differs and the likely cause. */
function expectLines(actual: readonly string[], expected: readonly string[], how: string): void {
  let i = 0;
  while (i < Math.max(actual.length, expected.length) && actual[i] === expected[i]) i += 1;
  if (i === Math.max(actual.length, expected.length)) return;
  const line = (list: readonly string[]) =>
    `${i < list.length ? `line ${i + 1}: ${show(list[i])}` : `no line ${i + 1}`} (${list.length} ${list.length === 1 ? 'line' : 'lines'} in all)`;
  fail(`${how}: ${diagnose(actual, expected, i)}`, { expected: line(expected), actual: line(actual) });
}

function diagnose(actual: readonly string[], expected: readonly string[], i: number): string {
  const a = actual[i];
  const e = expected[i];
  if (actual.length === 0) return 'push() returned no lines at all';
  if (a?.includes('\ufffd') && !e?.includes('\ufffd')) {
    return 'a UTF-8 character was cut between two chunks and each part was decoded on its own, which gives "�" (U+FFFD) — keep bytes, and turn a line into text only once its \\n has arrived';
  }
  if (a !== undefined && e !== undefined) {
    if (a === `${e}\r`) return 'a line sent with \\r\\n kept its \\r — drop a \\r just before the \\n';
    if (e.includes('\r') && a === e.replaceAll('\r', '')) {
      return 'a \\r that belongs to the line went missing — drop only one \\r, the one just before the \\n (replace(/\\r/g, "") drops them all)';
    }
    if (a === e.trim() || a === e.trimEnd()) return 'a line lost its spaces — drop only a \\r just before the \\n (trim() removes spaces too)';
    if (e === '' && a === expected[i + 1]) return 'an empty line went missing — "\\n\\n" holds an empty line: return it as ""';
    if (actual.length > expected.length && e.startsWith(a)) {
      return 'your LineSplitter returned more lines than were sent: part of a line came out before its \\n arrived — a chunk that does not end with \\n holds the start of a line: keep it until the \\n comes';
    }
    // (An empty a: the \n came first in its chunk, and the line's start was lost.)
    if (e.endsWith(a)) {
      return 'your LineSplitter returned only the end of a line: its start came in an earlier chunk — keep the bytes after the last \\n for the next push()';
    }
    if (e.startsWith(a)) {
      return 'your LineSplitter returned part of a line before its \\n arrived — a chunk that does not end with \\n holds the start of a line: keep it until the \\n comes';
    }
  }
  if (a === undefined) return 'lines are missing — keep the bytes after the last \\n of a chunk for the next push()';
  if (e === undefined) return 'your LineSplitter returned more lines than were sent';
  return 'your LineSplitter returned other lines than were sent';
}

/** Fail unless `err` is an Error whose message names the limit. */
function expectLimitError(err: unknown): void {
  if (err instanceof CheckFailure) throw err;
  if (!(err instanceof Error)) fail(`push() threw ${show(err)}, which is not an Error — throw new Error('…') so the caller gets a message and a stack`);
  if (!err.message.includes(String(LIMIT))) {
    fail(`push() refused the line, but its error does not name the limit: say it is over ${LIMIT} bytes, so whoever reads the log knows why`, {
      expected: `an error message that mentions ${LIMIT}`,
      actual: show(err.message),
    });
  }
}

function thrown(err: unknown): string {
  if (err instanceof CheckFailure) throw err;
  return err instanceof Error ? `threw ${err.name}: ${show(err.message)}` : `threw ${show(err)}`;
}

export default defineCheck<typeof Exercise>(async (c) => {
  const LineSplitter = await c.exported('LineSplitter');

  /** A new LineSplitter: one per stream of chunks. */
  const make = (maxBytes: number): Splitter => {
    let splitter: Splitter;
    try {
      splitter = new LineSplitter(maxBytes);
    } catch (err) {
      if (err instanceof TypeError && /not a constructor/.test(err.message)) {
        fail('LineSplitter is not a class — keep `export class LineSplitter` from the starting file');
      }
      throw err;
    }
    if (typeof (splitter as { push?: unknown }).push !== 'function') fail('a LineSplitter has no push() method — keep `push(chunk: Buffer): string[]` from the starting file');
    return splitter;
  };

  await c.step('creating a LineSplitter', () => void make(1024));

  await c.step('splitting lines sent one per chunk', () => {
    expectLines(pushAll(make(1024), cut('one piece per message')), LINES, 'sent one line per chunk');
  });

  await c.step('splitting lines that arrive together in one chunk', () => {
    expectLines(pushAll(make(1024), cut('all messages merged into one piece')), LINES, 'sent all in one chunk');
  });

  await c.step('splitting lines cut at random places between characters', () => {
    for (let seed = SEED; seed < SEED + RANDOM_SPLITS; seed += 1) {
      const pieces = splitBetweenCharacters(MESSAGES.join(''), seededRandom(seed));
      expectLines(pushAll(make(1024), pieces), LINES, `cut between characters at random places (seed ${seed})`);
    }
  });

  await c.step('decoding lines sent one byte at a time (every character cut)', () => {
    expectLines(pushAll(make(1024), cut('1-byte pieces')), LINES, 'sent one byte at a time');
  });

  await c.step('decoding lines cut at random bytes (characters cut too)', () => {
    for (let seed = SEED; seed < SEED + RANDOM_SPLITS; seed += 1) {
      expectLines(pushAll(make(1024), cut(`random split (seed ${seed})`)), LINES, `cut at random bytes (seed ${seed})`);
    }
  });

  await c.step('splitting two streams at once, one LineSplitter each', () => {
    // Two connections, each with its own LineSplitter; their chunks arrive in turns,
    // cut at random bytes (characters too).
    const streams = [
      { lines: LINES, pieces: splitRandomly(BYTES, seededRandom(SEED + 10)) },
      { lines: OTHER_LINES, pieces: splitRandomly(Buffer.from(OTHER.join('')), seededRandom(SEED + 11)) },
    ];
    // Each stream alone first: a mistake there is not about sharing.
    for (const [i, stream] of streams.entries()) {
      expectLines(pushAll(make(1024), stream.pieces), stream.lines, `stream ${i + 1} alone, cut at random bytes`);
    }
    const splitters = streams.map(() => make(1024));
    const got: string[][] = streams.map(() => []);
    const turns = Math.max(...streams.map((stream) => stream.pieces.length));
    for (let k = 0; k < turns; k += 1) {
      for (const [i, stream] of streams.entries()) {
        if (k < stream.pieces.length) got[i].push(...returned(splitters[i].push(stream.pieces[k])));
      }
    }
    for (const [i, stream] of streams.entries()) {
      let j = 0;
      while (j < Math.max(got[i].length, stream.lines.length) && got[i][j] === stream.lines[j]) j += 1;
      if (j === Math.max(got[i].length, stream.lines.length)) continue;
      const line = (list: readonly string[]) => `stream ${i + 1}, ${j < list.length ? `line ${j + 1}: ${show(list[j])}` : `no line ${j + 1}`}`;
      fail(
        "your LineSplitters got in each other's way: each stream alone comes out right, but with two at once the lines are mixed up — " +
          'each LineSplitter must keep its own unfinished line (and its own decoder, if it uses one) in a field of the object, ' +
          'not in a variable outside the class or a static field, which every LineSplitter shares',
        { expected: line(stream.lines), actual: line(got[i]) },
      );
    }
  });

  await c.step(
    'decoding lines from a real socket, written in random pieces',
    async (s) => {
      // The check's server writes the bytes in pieces, one per turn of the event
      // loop; TCP merges and splits them as it likes on the way.
      const splitter = make(1024);
      const lines: string[] = [];
      const onChunk = (chunk: Buffer) => void lines.push(...returned(splitter.push(chunk)));
      const chunks = await c.throughSocket(s, SOCKET_PIECES, onChunk, () => `${lines.length} lines so far`);
      expectLines(lines, SOCKET_LINES, `sent over a socket as ${SOCKET_PIECES.length} writes, read as ${chunks} chunks`);
    },
    { timeout: 5000 },
  );

  await c.step(`accepting lines of exactly maxBytes bytes (${LIMIT})`, () => {
    const text = EXACT.map((line) => `${line}\n`).join('');
    const ways: [string, Buffer[]][] = [
      ['sent one byte at a time', [...Buffer.from(text)].map((b) => Buffer.from([b]))],
      ['sent together in one chunk', [Buffer.from(text)]],
    ];
    for (const [how, pieces] of ways) {
      let lines: string[];
      try {
        lines = pushAll(make(LIMIT), pieces);
      } catch (err) {
        fail(
          `${how}, two lines of exactly ${LIMIT} bytes with maxBytes ${LIMIT}: push() threw — a line may be maxBytes bytes long, only a longer one is refused` +
            (how.includes('together') ? ` (the limit is for one line, not for a chunk: this chunk holds two lines, ${Buffer.byteLength(text)} bytes with their \\n)` : ''),
          { expected: show(EXACT), actual: thrown(err) },
        );
      }
      expectLines(lines, EXACT, `${how}, two lines of exactly ${LIMIT} bytes with maxBytes ${LIMIT}`);
    }
  });

  await c.step('refusing a line over maxBytes bytes', () => {
    const splitter = make(LIMIT);
    expectLines(pushAll(splitter, [Buffer.from('ok\n')]), ['ok'], `with maxBytes ${LIMIT}, a short line`);
    let lines: string[];
    try {
      lines = returned(splitter.push(Buffer.from(`${OVER}\n`)));
    } catch (err) {
      expectLimitError(err);
      return;
    }
    fail(
      `with maxBytes ${LIMIT}, push() accepted a line of ${Buffer.byteLength(OVER)} bytes (${OVER.length} characters) — count bytes, not characters: 你 is 3 bytes`,
      { expected: `an Error that names the limit of ${LIMIT} bytes`, actual: `push() returned ${show(lines)}` },
    );
  });

  await c.step('refusing an endless line before its newline arrives', () => {
    const splitter = make(LIMIT);
    const x = Buffer.from('x');
    let fed = 0;
    try {
      while (fed < LIMIT + 1) {
        fed += 1;
        returned(splitter.push(x));
      }
    } catch (err) {
      if (fed <= LIMIT) {
        fail(`with maxBytes ${LIMIT}, push() threw after only ${fed} bytes of a line: a line may be ${LIMIT} bytes long`, {
          expected: `an error at byte ${LIMIT + 1}`,
          actual: `after ${fed} bytes push() ${thrown(err)}`,
        });
      }
      expectLimitError(err);
      return;
    }
    // No error yet: keep feeding, to say how far it went.
    let thrownAt: number | undefined;
    try {
      while (fed < ENDLESS_MAX) {
        fed += 64;
        splitter.push(Buffer.alloc(64, 'x'));
      }
    } catch {
      thrownAt = fed;
    }
    fail(
      `with maxBytes ${LIMIT}, your LineSplitter held ${LIMIT + 1} bytes of a line with no \\n yet and did not throw — a peer that never sends \\n would fill your memory: check the size of the unfinished line after every push(), not only when a \\n arrives`,
      {
        expected: `an Error from the push() that brings the unfinished line to ${LIMIT + 1} bytes`,
        actual: thrownAt === undefined ? `no error after ${fed} bytes without \\n` : `an error only after ${thrownAt} bytes`,
      },
    );
  });
});

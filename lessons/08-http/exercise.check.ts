// The check for exercise 08: run it with `npm run check 08`.
// It feeds the learner's RequestReader the same requests cut every way, then
// over a real socket, then the limits, then large inputs in small pieces, and
// compares only the requests that come out: never the chunks.
import { performance } from 'node:perf_hooks';
import { CheckFailure, chunkings, defineCheck, fail, piecesOf, seededRandom, show, splitRandomly, turn } from '../shared/check/index.ts';
import type * as Exercise from './exercise.ts';

type Reader = InstanceType<typeof Exercise.RequestReader>;

interface Wanted {
  method: string;
  target: string;
  /** checked only where a step is about headers */
  headers?: Record<string, string>;
  body: Buffer;
}

function httpRequest(requestLine: string, headers: [string, string][], body: Buffer | string = ''): { bytes: Buffer; wanted: Wanted } {
  const bodyBytes = Buffer.from(body);
  const head = Buffer.from([requestLine, ...headers.map(([name, value]) => `${name}:${value}`)].join('\r\n'));
  const [method, target] = requestLine.split(' ');
  const lower = Object.fromEntries(headers.map(([name, value]) => [name.toLowerCase(), value.replace(/^[ \t]+|[ \t]+$/g, '')]));
  return { bytes: Buffer.concat([head, Buffer.from('\r\n\r\n'), bodyBytes]), wanted: { method, target, headers: lower, body: bodyBytes } };
}

// A body with 3- and 4-byte characters, and something that looks like a request inside it.
const ECHO_BODY = '你好, HTTP 😀\r\n\r\nGET /not-a-request HTTP/1.1\r\n\r\n';
// Bytes that are not UTF-8 at all.
const BINARY_BODY = Buffer.from([0x00, 0xff, 0xfe, 0x0d, 0x0a, 0x0d, 0x0a, 0x80, 0x41]);

const GET = httpRequest('GET /hello HTTP/1.1', [['Host', ' example.com'], ['Accept', ' */*']]);
const POST = httpRequest(
  'POST /echo HTTP/1.1',
  [['Host', ' example.com'], ['Content-Type', ' text/plain; charset=utf-8'], ['Content-Length', ` ${Buffer.byteLength(ECHO_BODY)}`], ['X-Note', ' café ☕']],
  ECHO_BODY,
);
// Not compared: its bytes above 0x7f are UTF-8 here, and HTTP gives them no meaning. They make a
// head whose characters (read as UTF-8) and bytes differ in number.
delete POST.wanted.headers!['x-note'];
const MIXED = httpRequest(
  'PUT /notes HTTP/1.1',
  [['HOST', ' example.com'], ['content-LENGTH', ' 6'], ['X-Mixed-Case', ' \t padded value \t'], ['x-empty', '']],
  'café\n',
);
const STREAM = [
  GET,
  POST,
  MIXED,
  httpRequest('DELETE /notes/1 HTTP/1.1', [['Host', ' example.com'], ['CONTENT-LENGTH', ' 0']]),
  httpRequest('POST /upload HTTP/1.1', [['Host', ' example.com'], ['Content-Length', ` ${BINARY_BODY.length}`]], BINARY_BODY),
  httpRequest('GET /last?x=1 HTTP/1.1', [['Host', ' example.com']]),
];
const MESSAGES = STREAM.map((r) => r.bytes);
const WANTED = STREAM.map((r) => r.wanted);

const SEED = 1;
const RANDOM_SPLITS = 3;
const CUTS = chunkings(MESSAGES, { randomSplits: RANDOM_SPLITS, seed: SEED });

const cut = (name: string) => piecesOf(CUTS, name);

// Over a socket: the stream several times, written in random pieces.
const ROUNDS = 4;
const SOCKET_BYTES = Buffer.concat(Array.from({ length: ROUNDS }, () => MESSAGES).flat());
const SOCKET_WANTED = Array.from({ length: ROUNDS }, () => WANTED).flat();
const SOCKET_PIECES = splitRandomly(SOCKET_BYTES, seededRandom(8), 64);

// The limits, small so that the check stays quick.
const MAX_HEAD = 256;
const MAX_BODY = 1000;

/** A complete head of exactly `size` bytes, \r\n\r\n included. */
function headOf(size: number): Buffer {
  const start = 'GET /limit HTTP/1.1\r\nHost: example.com\r\nX-Pad: ';
  return Buffer.from(`${start}${'a'.repeat(size - start.length - 4)}\r\n\r\n`, 'latin1');
}

// Large inputs in small pieces: time that grows with the bytes, not with the bytes squared.
const PIPELINED = 2000;
const BIG_BODY = 2 * 1024 * 1024;
const PIECE = 256;
/** A correct reader takes 10 to 50 ms for each, even on a busy machine; one that copies or searches everything it holds at every push takes seconds. */
const BUDGET_MS = 750;
/** The step's own timeout, above the budget even when steps are scaled down by half. */
const TIME_LIMIT = 4 * BUDGET_MS;

/** push()'s result, checked to be an array of requests. */
function returned(value: unknown): Wanted[] {
  if (!Array.isArray(value)) fail(`push() returned ${show(value)}; expected an array of the requests the chunk completed ([] when none)`);
  for (const item of value) {
    if (typeof item !== 'object' || item === null) fail(`push() returned an array holding ${show(item)}; expected requests: { method, target, headers, body }`);
    const r = item as Record<string, unknown>;
    if (typeof r.headers !== 'object' || r.headers === null) fail(`a request has headers ${show(r.headers)}; expected an object of header names (in lower case) and values`);
    if (!(r.body instanceof Uint8Array)) {
      fail(`a request has the body ${show(r.body)}; expected a Buffer: a body is bytes, which may not be text at all — keep them as a Buffer, even when empty (Buffer.alloc(0))`);
    }
  }
  return value as Wanted[];
}

function pushAll(reader: Reader, pieces: readonly Buffer[]): Wanted[] {
  const requests: Wanted[] = [];
  for (const piece of pieces) requests.push(...returned(reader.push(piece)));
  return requests;
}

const brief = (r: Wanted | undefined) => (r ? `${r.method} ${r.target}, body ${show(Buffer.from(r.body).toString('latin1'))} (${r.body.length} B)` : 'none');

/** Fail unless the requests are the ones sent, saying which differs and the likely cause. */
const NO_REQUEST = 'a head ends at the first \\r\\n\\r\\n (a carriage return and a line feed, twice: not \\n\\n), and the body is the Content-Length bytes that follow it, starting in the same chunk';

function expectRequests(actual: readonly Wanted[], wanted: readonly Wanted[], how: string, { headers = false, none = NO_REQUEST } = {}): void {
  for (let i = 0; i < Math.max(actual.length, wanted.length); i += 1) {
    const a = actual[i];
    const w = wanted[i];
    const details = { expected: `request ${i + 1} of ${wanted.length}: ${brief(w)}`, actual: a ? `request ${i + 1} of ${actual.length}: ${brief(a)}` : `${actual.length} requests in all` };
    if (!a) {
      if (actual.length === 0) {
        fail(`${how}: push() returned no request at all — ${none}`, details);
      }
      fail(`${how}: only ${actual.length} of ${wanted.length} requests came out — whatever follows a request (in the same chunk too) is the start of the next one: keep it, and look for more requests in it before push() returns`, details);
    }
    if (!w) fail(`${how}: more requests came out than were sent`, details);
    if (a.method !== w.method || a.target !== w.target) {
      fail(`${how}: request ${i + 1} is ${show(`${a.method} ${a.target}`)} — ${w.target.endsWith(a.target) || a.target === '' ? 'it lost its start' : 'it began in the wrong place'}: a request starts right after the previous one's body (Content-Length bytes after its head), not before and not after`, details);
    }
    if (headers) expectHeaders(a.headers ?? {}, w.headers!, `${how}: request ${i + 1} (${w.method} ${w.target})`);
    if (!Buffer.from(a.body).equals(w.body)) fail(`${how}: request ${i + 1} (${w.method} ${w.target}) has the wrong body — ${bodyCause(Buffer.from(a.body), w.body)}`, details);
  }
}

function bodyCause(actual: Buffer, wanted: Buffer): string {
  if (actual.includes(Buffer.from('\ufffd')) && !wanted.includes(Buffer.from('\ufffd'))) {
    return 'it holds "�" (U+FFFD): bytes were decoded as UTF-8 text, a piece at a time or bytes that are not text — keep the body as bytes, and decode only the head';
  }
  if (actual.length > wanted.length) return `${actual.length} bytes where Content-Length says ${wanted.length}: take exactly Content-Length bytes, counted in bytes (Buffer length), not in characters of a string`;
  if (wanted.subarray(0, actual.length).equals(actual)) return `${actual.length} of ${wanted.length} bytes: a request is complete only when all Content-Length bytes have arrived — wait for the rest`;
  if (wanted.subarray(wanted.length - actual.length).equals(actual)) return 'its first bytes are missing: the bytes after \\r\\n\\r\\n in the same chunk as the head are the start of the body';
  return 'the bytes differ: take the body as bytes from the Buffers, exactly Content-Length of them';
}

function expectHeaders(actual: Record<string, unknown>, wanted: Record<string, string>, where: string): void {
  const names = Object.keys(actual);
  for (const [name, value] of Object.entries(wanted)) {
    if (actual[name] === value) continue;
    const sentAs = names.find((n) => n.toLowerCase() === name);
    if (sentAs !== undefined && sentAs !== name) {
      fail(`${where}: the header ${show(name)} came out as ${show(sentAs)} — HTTP header names are case-insensitive: put them in lower case (name.toLowerCase())`, {
        expected: show(wanted),
        actual: show(actual),
      });
    }
    const got = actual[name];
    const why = typeof got === 'string' && got.trim() === value ? ' — drop the spaces and tabs around a value' : '';
    fail(`${where}: the header ${show(name)} is ${show(got)}; expected ${show(value)}${why}`, { expected: show(wanted), actual: show(actual) });
  }
}

/** Fail unless `err` is a RequestError-like Error with this status. */
function expectRefusal(err: unknown, status: number, what: string): void {
  if (err instanceof CheckFailure) throw err;
  if (!(err instanceof Error)) fail(`${what}: push() threw ${show(err)}, which is not an Error — throw new RequestError(${status}, '…')`);
  const got = (err as { status?: unknown }).status;
  if (got !== status) {
    fail(`${what}: push() threw ${err.name}: ${show(err.message)} with status ${show(got)}; expected status ${status} — throw new RequestError(${status}, '…'): the server answers with that status`, {
      expected: `a RequestError with status ${status}`,
      actual: `${err.name} with status ${show(got)}`,
    });
  }
}

function thrown(err: unknown): string {
  if (err instanceof CheckFailure) throw err;
  if (err instanceof Error) return `threw ${err.name}${(err as { status?: unknown }).status !== undefined ? ` (status ${show((err as { status?: unknown }).status)})` : ''}: ${show(err.message)}`;
  return `threw ${show(err)}`;
}

/**
 * Push pieces until done or out of time, giving the event loop a turn now and
 * then; fail with how far it got if time ran out.
 */
async function pushInTime(reader: Reader, pieces: () => Generator<Buffer>, total: number, what: string, advice: string): Promise<Wanted[]> {
  const requests: Wanted[] = [];
  const start = performance.now();
  let lastTurn = start;
  let fed = 0;
  for (const piece of pieces()) {
    requests.push(...returned(reader.push(piece)));
    fed += piece.length;
    const now = performance.now();
    if (now - lastTurn > 50) {
      lastTurn = now;
      if (now - start > BUDGET_MS) {
        fail(`${what}: after ${BUDGET_MS} ms your reader had taken only ${fed} of ${total} bytes (${Math.round((fed / total) * 100)}%) — ${advice}`, {
          expected: `all ${total} bytes in well under ${BUDGET_MS} ms (the reference takes a few tens of ms)`,
          actual: `${fed} bytes after ${Math.round(performance.now() - start)} ms`,
        });
      }
      await turn();
    }
  }
  return requests;
}

export default defineCheck<typeof Exercise>(async (c) => {
  const RequestReader = await c.exported('RequestReader');

  const make = (maxHeadBytes = 16 * 1024, maxBodyBytes = 64 * 1024): Reader => {
    let reader: Reader;
    try {
      reader = new RequestReader(maxHeadBytes, maxBodyBytes);
    } catch (err) {
      if (err instanceof TypeError && /not a constructor/.test(err.message)) {
        fail('RequestReader is not a class — keep `export class RequestReader` from the starting file');
      }
      throw err;
    }
    if (typeof (reader as { push?: unknown }).push !== 'function') fail('a RequestReader has no push() method — keep `push(chunk: Buffer): Request[]` from the starting file');
    return reader;
  };

  await c.step('creating a RequestReader', () => void make());

  await c.step('reading a GET request sent in one chunk', () => {
    expectRequests(pushAll(make(), [GET.bytes]), [GET.wanted], 'GET /hello, its head in one chunk');
  });

  await c.step('reading a POST body framed by Content-Length, sent with its head', () => {
    expectRequests(pushAll(make(), [POST.bytes]), [POST.wanted], `POST /echo with a ${POST.wanted.body.length}-byte body (${ECHO_BODY.length} characters) in the same chunk as its head`, {
      none: 'the body starts right after \\r\\n\\r\\n, here in the same chunk as the head, and it is Content-Length bytes long: count bytes (a Buffer\'s length), not characters (你 is one character, 3 bytes)',
    });
  });

  await c.step('giving header names in lower case, whatever case they were sent in', () => {
    expectRequests(pushAll(make(), [MIXED.bytes]), [MIXED.wanted], 'PUT /notes, sent with HOST and content-LENGTH', { headers: true });
  });

  await c.step('reading requests sent one per chunk', () => {
    expectRequests(pushAll(make(), cut('one piece per message')), WANTED, 'six requests, one per chunk');
  });

  await c.step('reading pipelined requests that arrive together in one chunk', () => {
    expectRequests(pushAll(make(), cut('all messages merged into one piece')), WANTED, 'six requests in one chunk');
  });

  await c.step('reading requests sent one byte at a time', () => {
    expectRequests(pushAll(make(), cut('1-byte pieces')), WANTED, 'six requests, one byte per chunk', {
      none: 'the 4 bytes \\r\\n\\r\\n can be cut between chunks (\\r\\n\\r in one, \\n in the next): keep the bytes of an unfinished head and search them together with the new ones (at least the last 3 old bytes)',
    });
  });

  await c.step('reading requests cut at random places', () => {
    for (let seed = SEED; seed < SEED + RANDOM_SPLITS; seed += 1) {
      expectRequests(pushAll(make(), cut(`random split (seed ${seed})`)), WANTED, `six requests cut at random places (seed ${seed})`, { headers: true });
    }
  });

  await c.step(
    'reading requests from a real socket, written in random pieces',
    async (s) => {
      // The check's server writes the bytes in pieces; TCP merges and splits them as it likes.
      const reader = make();
      const requests: Wanted[] = [];
      const onChunk = (chunk: Buffer) => void requests.push(...returned(reader.push(chunk)));
      const chunks = await c.throughSocket(s, SOCKET_PIECES, onChunk, () => `${requests.length} requests so far`);
      expectRequests(requests, SOCKET_WANTED, `sent over a socket as ${SOCKET_PIECES.length} writes, read as ${chunks} chunks`);
    },
    { timeout: 5000 },
  );

  await c.step('two RequestReaders at once, each with its own stream', () => {
    // Two connections: their chunks take turns, each cut in the middle of a request.
    const one = make();
    const two = make();
    const a = Buffer.concat([GET.bytes, POST.bytes]);
    const b = Buffer.concat([MIXED.bytes, GET.bytes]);
    const fromOne = [...returned(one.push(a.subarray(0, 30)))];
    const fromTwo = [...returned(two.push(b.subarray(0, 50)))];
    fromOne.push(...returned(one.push(a.subarray(30))));
    fromTwo.push(...returned(two.push(b.subarray(50))));
    for (const [actual, wanted, name] of [[fromOne, [GET.wanted, POST.wanted], 'the first'], [fromTwo, [MIXED.wanted, GET.wanted], 'the second']] as const) {
      try {
        expectRequests(actual, wanted, `${name} of two RequestReaders, their chunks taking turns`);
      } catch (err) {
        if (err instanceof CheckFailure) {
          fail(`${err.message} — do the two readers share their bytes? Keep everything in fields of the object (this.…), nothing in variables outside the class`, { expected: err.expected, actual: err.actual });
        }
        throw err;
      }
    }
  });

  await c.step(`accepting a head of exactly maxHeadBytes bytes (${MAX_HEAD})`, () => {
    const head = headOf(MAX_HEAD);
    for (const [how, pieces] of [['in one chunk', [head]], ['one byte at a time', [...head].map((b) => Buffer.from([b]))]] as const) {
      let requests: Wanted[];
      try {
        requests = pushAll(make(MAX_HEAD, MAX_BODY), pieces);
      } catch (err) {
        fail(`with maxHeadBytes ${MAX_HEAD}, a head of exactly ${MAX_HEAD} bytes (\\r\\n\\r\\n included) sent ${how}: push() threw — a head may be maxHeadBytes long, only a longer one is refused`, {
          expected: 'GET /limit',
          actual: thrown(err),
        });
      }
      if (requests.length !== 1 || requests[0].target !== '/limit') fail(`with maxHeadBytes ${MAX_HEAD}, a head of exactly ${MAX_HEAD} bytes sent ${how} did not come out as one request`, { expected: 'GET /limit', actual: `${requests.length} requests` });
    }
  });

  await c.step('refusing a head over maxHeadBytes bytes (431)', () => {
    try {
      const requests = returned(make(MAX_HEAD, MAX_BODY).push(headOf(MAX_HEAD + 1)));
      fail(`with maxHeadBytes ${MAX_HEAD}, push() accepted a complete head of ${MAX_HEAD + 1} bytes — count the head's bytes up to and including \\r\\n\\r\\n, and throw new RequestError(431, '…') when there are more than maxHeadBytes`, {
        expected: 'a RequestError with status 431',
        actual: `push() returned ${requests.length} request(s)`,
      });
    } catch (err) {
      expectRefusal(err, 431, `a complete head of ${MAX_HEAD + 1} bytes with maxHeadBytes ${MAX_HEAD}`);
    }
  });

  await c.step('refusing an endless head before it is complete (431)', () => {
    const reader = make(MAX_HEAD, MAX_BODY);
    const start = Buffer.from('GET / HTTP/1.1\r\nX-Endless: ');
    let fed = 0; // bytes pushed, the last push included
    try {
      fed = start.length;
      returned(reader.push(start));
      while (fed <= MAX_HEAD) {
        fed += 1;
        returned(reader.push(Buffer.from('a')));
      }
    } catch (err) {
      if (fed < MAX_HEAD) {
        fail(`with maxHeadBytes ${MAX_HEAD}, push() threw when the unfinished head held only ${fed} bytes: a head may be ${MAX_HEAD} bytes long`, {
          expected: `an error once the head is over ${MAX_HEAD} bytes`,
          actual: thrown(err),
        });
      }
      expectRefusal(err, 431, `an unfinished head of ${fed} bytes with maxHeadBytes ${MAX_HEAD}`);
      return;
    }
    fail(
      `with maxHeadBytes ${MAX_HEAD}, your RequestReader held ${fed} bytes of a head with no \\r\\n\\r\\n yet and did not throw — a client that never ends its head would fill your memory: check the size of the unfinished head after every push(), not only once \\r\\n\\r\\n arrives`,
      { expected: `a RequestError with status 431 by the push() that brings the head to ${MAX_HEAD + 1} bytes`, actual: `no error after ${fed} bytes` },
    );
  });

  await c.step('refusing a Content-Length that is not a number of bytes (400)', () => {
    const post = (length: string) => Buffer.from(`POST /echo HTTP/1.1\r\nHost: example.com\r\nContent-Length: ${length}\r\n\r\n`);
    for (const bad of ['0x10', '1e3', '', '-1', '12abc', '+5', '1.5', '5 5']) {
      let requests: Wanted[];
      try {
        requests = returned(make(MAX_HEAD, MAX_BODY).push(post(bad)));
      } catch (err) {
        expectRefusal(err, 400, `Content-Length: ${show(bad)}`);
        continue;
      }
      fail(`Content-Length: ${show(bad)} was accepted — only digits make a length: Number() takes '0x10', '1e3' and '' as numbers, parseInt() takes '12abc'. Test it with /^\\d+$/ and throw new RequestError(400, '…') otherwise`, {
        expected: 'a RequestError with status 400',
        actual: `push() returned ${requests.length} request(s) and waited for more`,
      });
    }
  });

  await c.step('refusing a Content-Length over maxBodyBytes before the body arrives (413)', () => {
    const post = (length: string) => Buffer.from(`POST /echo HTTP/1.1\r\nHost: example.com\r\nContent-Length: ${length}\r\n\r\n`);
    try {
      returned(make(MAX_HEAD, MAX_BODY).push(post(String(MAX_BODY))));
    } catch (err) {
      fail(`with maxBodyBytes ${MAX_BODY}, a Content-Length of exactly ${MAX_BODY}: push() ${thrown(err)} — a body may be maxBodyBytes long`);
    }
    for (const big of [String(MAX_BODY + 1), '99999999999999999999999999']) {
      let requests: Wanted[];
      try {
        requests = returned(make(MAX_HEAD, MAX_BODY).push(post(big)));
      } catch (err) {
        expectRefusal(err, 413, `Content-Length: ${big} with maxBodyBytes ${MAX_BODY}`);
        continue;
      }
      fail(`with maxBodyBytes ${MAX_BODY}, a head announcing Content-Length: ${big} was accepted — your reader would wait for, and keep, that many bytes: throw new RequestError(413, '…') as soon as the head is complete`, {
        expected: 'a RequestError with status 413 from the push() that completes the head',
        actual: `push() returned ${requests.length} request(s) and waited for the body`,
      });
    }
  });

  await c.step(`reading ${PIPELINED} pipelined requests in small pieces, in time that grows with the bytes`, async () => {
    const one = httpRequest('POST /n HTTP/1.1', [['Host', ' example.com'], ['Content-Length', ' 2']], 'ok').bytes;
    const total = one.length * PIPELINED;
    const stream = Buffer.concat(Array.from({ length: PIPELINED }, () => one));
    const requests = await pushInTime(make(), function* () {
      for (let at = 0; at < total; at += 64) yield stream.subarray(at, at + 64);
    }, total, `${PIPELINED} requests of ${one.length} bytes in 64-byte pieces`,
    'each push() seems to work through everything received so far: drop the bytes of the requests you returned, and do not read them again');
    if (requests.length !== PIPELINED) fail(`${PIPELINED} requests were sent in 64-byte pieces; ${requests.length} came out`);
  }, { timeout: TIME_LIMIT });

  await c.step(`reading a body of ${BIG_BODY / 1024 / 1024} MiB in ${PIECE}-byte pieces, in time that grows with the bytes`, async () => {
    const head = Buffer.from(`POST /big HTTP/1.1\r\nHost: example.com\r\nContent-Length: ${BIG_BODY}\r\n\r\n`);
    const piece = Buffer.alloc(PIECE, 'x');
    const total = head.length + BIG_BODY;
    const requests = await pushInTime(make(16 * 1024, BIG_BODY), function* () {
      yield head;
      for (let sent = 0; sent < BIG_BODY; sent += PIECE) yield piece;
    }, total, `a body of ${BIG_BODY} bytes in ${PIECE}-byte pieces`,
    'each push() seems to copy the whole body received so far (Buffer.concat of everything you hold): keep the body\'s pieces in an array, and join them once, when the last one has come');
    if (requests.length !== 1 || requests[0].body.length !== BIG_BODY) {
      fail(`a body of ${BIG_BODY} bytes in ${PIECE}-byte pieces`, { expected: `one request with a body of ${BIG_BODY} bytes`, actual: requests.map(brief).join('; ') || 'no request' });
    }
  }, { timeout: TIME_LIMIT });
});

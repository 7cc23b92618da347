// HTTP/1.1 framing: where one message ends in a TCP byte stream.
// Lesson 06 framed lines (end at \n) and length-prefixed frames (a length,
// then the payload). An HTTP/1.1 message uses both ideas:
//
//   head   text lines, ended by the first empty line: the bytes \r\n\r\n
//   body   exactly Content-Length bytes (any bytes, \r\n\r\n included), or,
//          in a response whose length is not known in advance, chunks:
//          `<size in hex>\r\n<bytes>\r\n` … `0\r\n\r\n` (Transfer-Encoding: chunked)
//
// Whatever follows a message is the start of the next one (keep-alive and
// pipelining). As in lesson 06, every size has a limit, checked as the bytes
// arrive: a peer that never sends \r\n\r\n must not fill our memory.

/** Largest request head we accept, \r\n\r\n included. http's default maxHeaderSize is 16 KiB too. */
export const MAX_HEAD_BYTES = 16 * 1024;
/** Largest request body we accept (Content-Length). http has no limit of its own: this is the application's job. */
export const MAX_BODY_BYTES = 64 * 1024;

const END_OF_HEAD = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

/** A request we refuse, with the status code HTTP has for it. */
export class HttpError extends Error {
  override name = 'HttpError';

  constructor(readonly status: 400 | 408 | 413 | 431 | 501 | 505, message: string) {
    super(message);
  }
}

export interface HttpRequest {
  method: string;
  /** the request target as sent: '/hello?x=1' */
  target: string;
  version: '1.0' | '1.1';
  /** names in lower case (HTTP names are case-insensitive); repeated names joined with ', ' */
  headers: Record<string, string>;
  body: Buffer;
  /** may the connection carry another request after this one? */
  keepAlive: boolean;
}

export interface RequestLimits {
  maxHeadBytes?: number;
  maxBodyBytes?: number;
}

/**
 * Decodes requests from chunks, however they were cut. `push(chunk, onRequest)`
 * calls onRequest for each request the chunk completes, in order. It throws an
 * HttpError for a request we refuse: a head over maxHeadBytes (431) as soon as
 * the unfinished head passes the limit, a Content-Length over maxBodyBytes
 * (413) as soon as the head is in, before the body arrives. Requests before the
 * refused one are delivered first. After an error the stream is out of sync:
 * answer the error and close.
 */
export class RequestDecoder {
  readonly maxHeadBytes: number;
  readonly maxBodyBytes: number;
  /** chunks of the unfinished head, their size, and its last 3 bytes */
  #head: Buffer[] = [];
  #headBytes = 0;
  #tail = Buffer.alloc(0);
  /** the request whose body is arriving, and the pieces of that body so far */
  #request: HttpRequest | undefined;
  #body: Buffer[] = [];
  #bodyBytes = 0;
  #bodySize = 0;
  #failed = false;

  constructor({ maxHeadBytes = MAX_HEAD_BYTES, maxBodyBytes = MAX_BODY_BYTES }: RequestLimits = {}) {
    this.maxHeadBytes = maxHeadBytes;
    this.maxBodyBytes = maxBodyBytes;
  }

  /** Bytes held for a request that is not complete yet. */
  get pendingBytes(): number {
    return this.#headBytes + this.#bodyBytes;
  }

  /** Between two requests, nothing held: a FIN here is a clean end. */
  get idle(): boolean {
    return this.#request === undefined && this.#headBytes === 0;
  }

  push(chunk: Buffer, onRequest: (request: HttpRequest) => void): void {
    if (this.#failed) throw new Error('this RequestDecoder refused a request earlier: the stream is out of sync, close the connection');
    let rest = chunk;
    while (rest.length > 0) {
      rest = this.#request === undefined ? this.#readHead(rest) : this.#readBody(rest);
      // A request with no body, or whose body is complete, is done.
      if (this.#request !== undefined && this.#bodyBytes === this.#bodySize) onRequest(this.#finish());
    }
  }

  /** Take head bytes from `chunk`; return what follows the head (nothing, if the head goes on). */
  #readHead(chunk: Buffer): Buffer {
    // \r\n\r\n may be cut between two chunks: search the new chunk together
    // with the last 3 bytes before it, so that each byte is searched once.
    const window = this.#tail.length > 0 ? Buffer.concat([this.#tail, chunk]) : chunk;
    const found = window.indexOf(END_OF_HEAD);
    if (found === -1) {
      this.#headBytes += chunk.length;
      // Refuse now: a head that already reached the limit can only get longer.
      if (this.#headBytes >= this.maxHeadBytes) {
        this.#fail(new HttpError(431, `request head over ${this.maxHeadBytes} bytes, and no end of head (\\r\\n\\r\\n) yet`));
      }
      this.#head.push(chunk);
      this.#tail = Buffer.from(window.subarray(Math.max(0, window.length - 3)));
      return chunk.subarray(chunk.length);
    }
    const end = found + END_OF_HEAD.length - this.#tail.length; // bytes of this chunk that belong to the head
    const size = this.#headBytes + end;
    if (size > this.maxHeadBytes) this.#fail(new HttpError(431, `request head of ${size} bytes is over ${this.maxHeadBytes} bytes`));
    const head = Buffer.concat([...this.#head, chunk.subarray(0, end)], size);
    this.#head = [];
    this.#headBytes = 0;
    this.#tail = Buffer.alloc(0);
    try {
      this.#request = parseRequestHead(head);
      this.#bodySize = checkBodySize(this.#request.headers['content-length'], this.maxBodyBytes);
    } catch (err) {
      this.#fail(err as Error);
    }
    return chunk.subarray(end);
  }

  #fail(err: Error): never {
    this.#failed = true;
    this.#head = [];
    this.#headBytes = 0;
    this.#body = [];
    this.#bodyBytes = 0;
    throw err;
  }

  /** Take body bytes from `chunk`; return what follows the body: the next request. */
  #readBody(chunk: Buffer): Buffer {
    const take = Math.min(this.#bodySize - this.#bodyBytes, chunk.length);
    // A copy, because the caller may reuse its buffer after push() returns.
    this.#body.push(Buffer.from(chunk.subarray(0, take)));
    this.#bodyBytes += take;
    return chunk.subarray(take);
  }

  #finish(): HttpRequest {
    const request = this.#request!;
    request.body = Buffer.concat(this.#body, this.#bodyBytes);
    this.#request = undefined;
    this.#body = [];
    this.#bodyBytes = 0;
    this.#bodySize = 0;
    return request;
  }
}

// A token: the characters HTTP allows in a method or a header name (RFC 9110 §5.6.2).
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// A header value: visible characters, spaces and tabs, and bytes above 0x7f; no other control characters.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Parse a request head (everything up to and including \r\n\r\n). */
export function parseRequestHead(head: Buffer): HttpRequest {
  // latin1: one byte, one character, as Node's http does; the head is ASCII text.
  const lines = head.toString('latin1', 0, head.length - END_OF_HEAD.length).split('\r\n');
  const requestLine = lines[0];
  const match = /^([^ ]+) ([^ ]+) HTTP\/(\d)\.(\d)$/.exec(requestLine);
  if (!match || !TOKEN.test(match[1]) || /[\x00-\x20\x7f]/.test(match[2])) {
    throw new HttpError(400, `not an HTTP request line: ${JSON.stringify(requestLine.slice(0, 60))}`);
  }
  const [, method, target, major, minor] = match;
  if (major !== '1' || (minor !== '0' && minor !== '1')) throw new HttpError(505, `HTTP/${major}.${minor} is not supported: this server speaks HTTP/1.0 and HTTP/1.1`);
  const version = minor === '1' ? '1.1' : '1.0';

  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon);
    // No space before the colon, no line folding, no stray \r or \n: each was used to smuggle requests.
    if (colon <= 0 || !TOKEN.test(name)) throw new HttpError(400, `not a header line: ${JSON.stringify(line.slice(0, 60))}`);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!FIELD_VALUE.test(value)) throw new HttpError(400, `header ${name} holds a control character`);
    const key = name.toLowerCase();
    if (key in headers && (key === 'content-length' || key === 'host')) throw new HttpError(400, `more than one ${name} header`);
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }

  if (version === '1.1' && headers.host === undefined) throw new HttpError(400, 'an HTTP/1.1 request needs a Host header');
  // We frame request bodies by Content-Length only. Both headers at once is how requests get smuggled.
  if (headers['transfer-encoding'] !== undefined) throw new HttpError(501, 'Transfer-Encoding in a request is not supported here: send a Content-Length');
  const connection = (headers.connection ?? '').toLowerCase().split(',').map((token) => token.trim());
  const keepAlive = version === '1.1' ? !connection.includes('close') : connection.includes('keep-alive');
  return { method, target, version, headers, body: Buffer.alloc(0), keepAlive };
}

/**
 * The body size a request announces (0 without Content-Length), checked before
 * any of the body arrives: 400 for anything but digits, 413 over the limit.
 */
export function checkBodySize(length: string | undefined, maxBodyBytes: number): number {
  if (length === undefined) return 0; // no Content-Length, no body (for a request)
  // Digits only: Number() would also take '0x10', '1e3' and '', parseInt() '12abc'.
  if (!/^\d+$/.test(length)) throw new HttpError(400, `Content-Length is not a number of bytes: ${JSON.stringify(length)}`);
  const size = length.length > 15 ? Infinity : Number(length); // never trust a 40-digit number to fit
  if (size > maxBodyBytes) throw new HttpError(413, `a body of ${length} bytes is over ${maxBodyBytes} bytes`);
  return size;
}

// ── Responses ────────────────────────────────────────────────────────────────

export const REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  505: 'HTTP Version Not Supported',
};

/** A response head: the status line and the headers, then the empty line. */
export function responseHead(status: number, headers: Record<string, string | number>): Buffer {
  const lines = [`HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** One chunk of a chunked body: its size in hex, the bytes, \r\n. An empty chunk ends the body. */
export function encodeChunk(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  return Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, CRLF]);
}

export const LAST_CHUNK = Buffer.from('0\r\n\r\n');

// ── The client's side: where a response ends ─────────────────────────────────

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** how its end was found: 'content-length', 'chunked' or 'close' */
  framing: 'content-length' | 'chunked' | 'close';
}

/**
 * Decodes responses with the same framing, for the lesson's own client:
 * Content-Length, chunked, or (neither) everything until the connection
 * closes. Call `end()` when the connection ended. Like RequestDecoder it keeps
 * body bytes as pieces and joins them once, so its work grows with the bytes.
 */
export class ResponseDecoder {
  /** bytes not used yet: the start of a head or of a chunk-size line (small) */
  #pending: Buffer = Buffer.alloc(0);
  #response: HttpResponse | undefined;
  #parts: Buffer[] = [];
  #size = 0;
  /** what comes next: a head, body or chunk bytes (#need of them), a chunk-size line, a chunk's \r\n, or the last \r\n */
  #state: 'head' | 'bytes' | 'size' | 'crlf' | 'last' | 'close' = 'head';
  #need = 0;

  /** The most bytes one response may have: the lesson's client reads small answers. */
  constructor(readonly maxBytes = 256 * 1024) {}

  push(chunk: Buffer, onResponse: (response: HttpResponse) => void): void {
    this.#pending = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    while (this.#step(onResponse));
    if (this.#pending.length + this.#size > this.maxBytes) throw new Error(`response over ${this.maxBytes} bytes`);
  }

  /** The connection ended: a body delimited by the close is complete now. */
  end(onResponse: (response: HttpResponse) => void): void {
    if (this.#state === 'close') {
      this.#parts.push(this.#pending);
      this.#size += this.#pending.length;
      this.#pending = Buffer.alloc(0);
      onResponse(this.#finish());
    } else if (this.#state !== 'head' || this.#pending.length > 0) {
      throw new Error('the connection ended inside a response');
    }
  }

  /** Use what #pending holds for the current state; false when more bytes are needed. */
  #step(onResponse: (response: HttpResponse) => void): boolean {
    switch (this.#state) {
      case 'head': {
        const end = this.#pending.indexOf(END_OF_HEAD);
        if (end === -1) return false;
        const [statusLine, ...lines] = this.#pending.toString('latin1', 0, end).split('\r\n');
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
        if (!status) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        this.#consume(end + END_OF_HEAD.length);
        if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
          this.#response = { status, headers, body: Buffer.alloc(0), framing: 'chunked' };
          this.#state = 'size';
        } else if (headers['content-length'] !== undefined) {
          this.#response = { status, headers, body: Buffer.alloc(0), framing: 'content-length' };
          this.#need = Number(headers['content-length']);
          this.#state = 'bytes';
        } else {
          this.#response = { status, headers, body: Buffer.alloc(0), framing: 'close' };
          this.#state = 'close';
        }
        return true;
      }
      case 'bytes': {
        const take = Math.min(this.#need, this.#pending.length);
        this.#parts.push(this.#pending.subarray(0, take));
        this.#size += take;
        this.#need -= take;
        this.#consume(take);
        if (this.#need > 0) return false;
        if (this.#response!.framing === 'chunked') this.#state = 'crlf';
        else onResponse(this.#finish());
        return true;
      }
      case 'size': {
        const end = this.#pending.indexOf(CRLF);
        if (end === -1) return false;
        const size = parseInt(this.#pending.toString('latin1', 0, end), 16);
        if (Number.isNaN(size)) throw new Error('a chunk size that is not hex');
        this.#consume(end + CRLF.length);
        this.#need = size;
        this.#state = size === 0 ? 'last' : 'bytes';
        return true;
      }
      case 'crlf':
      case 'last': {
        // After each chunk's bytes a \r\n; after the last chunk (no trailers here) the empty line.
        if (this.#pending.length < CRLF.length) return false;
        this.#consume(CRLF.length);
        if (this.#state === 'last') onResponse(this.#finish());
        else this.#state = 'size';
        return true;
      }
      case 'close':
        return false; // everything until the connection closes: end()
    }
  }

  #consume(n: number): void {
    this.#pending = this.#pending.subarray(n);
  }

  #finish(): HttpResponse {
    const response = this.#response!;
    response.body = Buffer.concat(this.#parts, this.#size);
    this.#response = undefined;
    this.#parts = [];
    this.#size = 0;
    this.#state = 'head';
    return response;
  }
}

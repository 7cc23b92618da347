// Exercise 08 · Read one HTTP request — the reference solution.
// Compare notes with yours: there are other good ways.

export interface Request {
  method: string;
  /** the request target as sent: '/hello?x=1' */
  target: string;
  /** names in lower case */
  headers: Record<string, string>;
  body: Buffer;
}

/** A request HTTP refuses: `status` is 400, 413 or 431. */
export class RequestError extends Error {
  override name = 'RequestError';

  constructor(readonly status: 400 | 413 | 431, message: string) {
    super(message);
  }
}

const END_OF_HEAD = Buffer.from('\r\n\r\n');

export class RequestReader {
  readonly maxHeadBytes: number;
  readonly maxBodyBytes: number;
  /** the unfinished head: at most maxHeadBytes, so joining a chunk to it stays cheap */
  #head: Buffer = Buffer.alloc(0);
  /** how much of #head was already searched for \r\n\r\n */
  #searched = 0;
  /** the request whose body is arriving, its pieces, and how many bytes are still missing */
  #request: Request | undefined;
  #pieces: Buffer[] = [];
  #missing = 0;

  constructor(maxHeadBytes = 16 * 1024, maxBodyBytes = 64 * 1024) {
    this.maxHeadBytes = maxHeadBytes;
    this.maxBodyBytes = maxBodyBytes;
  }

  push(chunk: Buffer): Request[] {
    const requests: Request[] = [];
    let rest = chunk;
    while (rest.length > 0) {
      if (this.#request !== undefined) {
        // The body: keep its pieces (copies: the caller may reuse its buffer) and join them once.
        const take = Math.min(this.#missing, rest.length);
        this.#pieces.push(Buffer.from(rest.subarray(0, take)));
        this.#missing -= take;
        rest = rest.subarray(take);
        if (this.#missing === 0) requests.push(this.#finish());
        continue;
      }
      rest = this.#readHead(rest);
      // A request without a body is complete as soon as its head is.
      if (this.#request !== undefined && this.#missing === 0) requests.push(this.#finish());
    }
    return requests;
  }

  /** Add bytes to the head; once it is complete, start its request. Returns the bytes after the head. */
  #readHead(bytes: Buffer): Buffer {
    const held = this.#head.length === 0 ? bytes : Buffer.concat([this.#head, bytes]);
    // \r\n\r\n may straddle the old bytes and the new ones: start 3 bytes back.
    const found = held.indexOf(END_OF_HEAD, Math.max(0, this.#searched - 3));
    if (found === -1) {
      if (held.length > this.maxHeadBytes) {
        throw new RequestError(431, `request head over ${this.maxHeadBytes} bytes and still no \\r\\n\\r\\n`);
      }
      this.#head = Buffer.from(held); // a copy: `bytes` belongs to the caller
      this.#searched = held.length;
      return bytes.subarray(bytes.length);
    }
    const size = found + END_OF_HEAD.length;
    if (size > this.maxHeadBytes) throw new RequestError(431, `request head of ${size} bytes is over ${this.maxHeadBytes} bytes`);
    this.#request = this.#parseHead(held.toString('latin1', 0, found));
    this.#head = Buffer.alloc(0);
    this.#searched = 0;
    return held.subarray(size);
  }

  #parseHead(text: string): Request {
    const [requestLine, ...lines] = text.split('\r\n');
    const [method = '', target = ''] = requestLine.split(' ');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon === -1) continue;
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    }
    const length = headers['content-length'] ?? '0';
    if (!/^\d+$/.test(length)) throw new RequestError(400, `Content-Length is not a number of bytes: ${JSON.stringify(length)}`);
    // Compare as text first: a 30-digit number does not fit in a JavaScript number.
    if (length.replace(/^0+/, '').length > String(this.maxBodyBytes).length || Number(length) > this.maxBodyBytes) {
      throw new RequestError(413, `a body of ${length} bytes is over ${this.maxBodyBytes} bytes`);
    }
    this.#missing = Number(length);
    return { method, target, headers, body: Buffer.alloc(0) };
  }

  #finish(): Request {
    const request = this.#request!;
    request.body = Buffer.concat(this.#pieces);
    this.#request = undefined;
    this.#pieces = [];
    return request;
  }
}

// Framing: getting messages back out of a TCP byte stream.
// TCP keeps no boundaries between writes, so the sender marks where each
// message ends and the receiver collects bytes until a message is complete,
// whatever sizes the chunks happen to have. Two common ways to mark the end:
//
//   newline-delimited   hello\n你好\n                 (text; a message may not contain \n)
//   length-prefixed     [00 00 00 05]hello           (any bytes; 4-byte big-endian length first)
//
// Both decoders below take chunks with push(chunk, onMessage) and call
// onMessage once per complete message, in order, as soon as it is complete.
// Both refuse a message over `maxBytes` (push() throws FrameTooLargeError)
// instead of buffering without bound: a peer that never sends the end of a
// message must not be able to fill our memory. The messages before the one
// refused are delivered first: which messages come out never depends on the chunking.

/** Default largest message, in bytes. */
export const DEFAULT_MAX_BYTES = 64 * 1024;

/** Size of the length prefix: a 32-bit unsigned big-endian integer. */
export const HEADER_BYTES = 4;

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** A message is over the decoder's limit; the stream is out of sync, so close the connection. */
export class FrameTooLargeError extends Error {
  override name = 'FrameTooLargeError';

  constructor(
    /** the decoder's `maxBytes` */
    readonly limit: number,
    /** bytes of the message seen or announced when it was refused */
    readonly size: number,
    message: string,
  ) {
    super(message);
  }
}

/** The stream ended in the middle of a length-prefixed frame. */
export class TruncatedFrameError extends Error {
  override name = 'TruncatedFrameError';

  constructor(readonly pending: number, message: string) {
    super(message);
  }
}

export interface DecoderOptions {
  /** largest message accepted, in bytes (for lines: the bytes before the \n) */
  maxBytes?: number;
}

function checkedLimit(maxBytes: number): number {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new RangeError(`maxBytes must be a whole number of bytes, 0 or more (got ${maxBytes})`);
  }
  return maxBytes;
}

/** View any Uint8Array as a Buffer without copying it. */
function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * Newline-delimited text. `push(chunk, onLine)` calls onLine for each line the
 * chunk completes, without its `\n` (and without a `\r` just before it, as
 * telnet sends). Lines are decoded as UTF-8 only once they are complete: the byte
 * 0x0a never occurs inside a multi-byte character, so a character split
 * across two chunks comes out whole.
 */
export class LineDecoder {
  readonly maxBytes: number;
  /** bytes of the unfinished line, in the order they arrived */
  #parts: Buffer[] = [];
  #pending = 0;
  #failed = false;

  constructor({ maxBytes = DEFAULT_MAX_BYTES }: DecoderOptions = {}) {
    this.maxBytes = checkedLimit(maxBytes);
  }

  /** Bytes held for a line that has no newline yet. */
  get pendingBytes(): number {
    return this.#pending;
  }

  push(chunk: Uint8Array, onLine: (line: string) => void): void {
    this.#checkUsable();
    const bytes = asBuffer(chunk);
    let start = 0;
    let newline: number;
    while ((newline = bytes.indexOf(NEWLINE, start)) !== -1) {
      const size = this.#pending + (newline - start);
      if (size > this.maxBytes) {
        this.#fail(new FrameTooLargeError(this.maxBytes, size,
          `line of ${size} bytes is over the limit of ${this.maxBytes} bytes`));
      }
      // A line that lies within this chunk is decoded where it lies; otherwise join its parts first.
      const line = this.#pending === 0
        ? decodeLine(bytes, start, newline)
        : decodeLine(Buffer.concat([...this.#parts, bytes.subarray(start, newline)], size), 0, size);
      this.#parts = [];
      this.#pending = 0;
      start = newline + 1;
      onLine(line);
    }
    if (start < bytes.length) {
      this.#pending += bytes.length - start;
      // Refuse now: waiting for a newline that may never come is how memory runs out.
      if (this.#pending > this.maxBytes) {
        this.#fail(new FrameTooLargeError(this.maxBytes, this.#pending,
          `line is over the limit of ${this.maxBytes} bytes: ${this.#pending} bytes and no newline yet`));
      }
      // A copy, because the caller may reuse its buffer after push() returns.
      this.#parts.push(Buffer.from(bytes.subarray(start)));
    }
  }

  /** The stream ended: a last line without a newline still counts (readline does the same). */
  end(onLine: (line: string) => void): void {
    this.#checkUsable();
    if (this.#pending === 0) return;
    const last = decodeLine(Buffer.concat(this.#parts, this.#pending), 0, this.#pending);
    this.#parts = [];
    this.#pending = 0;
    onLine(last);
  }

  #fail(err: Error): never {
    this.#failed = true;
    this.#parts = [];
    this.#pending = 0;
    throw err;
  }

  #checkUsable(): void {
    if (this.#failed) throw new Error('this LineDecoder refused a line earlier: the stream is out of sync, close the connection');
  }
}

/** The text of bytes[start, end), without a \r at its end. */
function decodeLine(bytes: Buffer, start: number, end: number): string {
  return bytes.toString('utf8', start, end > start && bytes[end - 1] === CARRIAGE_RETURN ? end - 1 : end);
}

/** One length-prefixed frame: a 4-byte big-endian length, then the payload. */
export function encodeFrame(payload: Uint8Array | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : asBuffer(payload);
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32BE(body.length); // throws a RangeError past 4 GiB - 1
  return Buffer.concat([header, body]);
}

/**
 * Length-prefixed frames, as made by `encodeFrame()`. `push(chunk, onFrame)`
 * calls onFrame with each payload the chunk completes. A length over `maxBytes` is refused as
 * soon as the 4 header bytes are in, before any of the payload arrives.
 */
export class LengthPrefixedDecoder {
  readonly maxBytes: number;
  #parts: Buffer[] = [];
  #buffered = 0;
  /** payload size of the frame being collected, once its header was read */
  #bodySize: number | undefined;
  #failed = false;

  constructor({ maxBytes = DEFAULT_MAX_BYTES }: DecoderOptions = {}) {
    this.maxBytes = checkedLimit(maxBytes);
  }

  /** Bytes held for a frame that is not complete yet. */
  get pendingBytes(): number {
    return this.#buffered;
  }

  push(chunk: Uint8Array, onFrame: (payload: Buffer) => void): void {
    this.#checkUsable();
    if (chunk.byteLength > 0) {
      // A copy, because the caller may reuse its buffer after push() returns.
      this.#parts.push(Buffer.from(chunk));
      this.#buffered += chunk.byteLength;
    }
    for (;;) {
      if (this.#bodySize === undefined) {
        if (this.#buffered < HEADER_BYTES) break;
        const size = this.#take(HEADER_BYTES).readUInt32BE(0);
        if (size > this.maxBytes) {
          this.#failed = true;
          this.#parts = [];
          this.#buffered = 0;
          throw new FrameTooLargeError(this.maxBytes, size,
            `frame of ${size} bytes is over the limit of ${this.maxBytes} bytes`);
        }
        this.#bodySize = size;
      }
      if (this.#buffered < this.#bodySize) break;
      const payload = this.#take(this.#bodySize);
      this.#bodySize = undefined;
      onFrame(payload);
    }
  }

  /** The stream ended: throws a TruncatedFrameError if it stopped inside a frame. */
  end(): void {
    this.#checkUsable();
    if (this.#bodySize === undefined && this.#buffered === 0) return;
    const message = this.#bodySize === undefined
      ? `the stream ended inside a frame header: ${this.#buffered} of ${HEADER_BYTES} bytes`
      : `the stream ended inside a frame: ${this.#buffered} of ${this.#bodySize} payload bytes`;
    const pending = this.#buffered;
    this.#parts = [];
    this.#buffered = 0;
    this.#bodySize = undefined;
    throw new TruncatedFrameError(pending, message);
  }

  /** Remove `n` bytes from the front of the buffered parts. */
  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.#buffered -= n;
    const first = this.#parts[0];
    if (first.length >= n) {
      if (first.length === n) this.#parts.shift();
      else this.#parts[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    // The frame spans several parts: copy them out, then drop the used ones in one go.
    const pieces: Buffer[] = [];
    let missing = n;
    let used = 0;
    while (missing > 0) {
      const part = this.#parts[used];
      if (part.length <= missing) {
        pieces.push(part);
        missing -= part.length;
        used += 1;
      } else {
        pieces.push(part.subarray(0, missing));
        this.#parts[used] = part.subarray(missing);
        missing = 0;
      }
    }
    this.#parts.splice(0, used);
    return Buffer.concat(pieces, n);
  }

  #checkUsable(): void {
    if (this.#failed) throw new Error('this LengthPrefixedDecoder refused a frame earlier: the stream is out of sync, close the connection');
  }
}

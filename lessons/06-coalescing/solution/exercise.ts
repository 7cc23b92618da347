// Exercise 06 · A line splitter — the reference solution.
// Compare notes once your own answer passes `npm run check 06`.
// (framing.ts in this lesson has a fuller LineDecoder: end() for a last line
// without \n, and no copying of the same bytes on every push.)

const NEWLINE = 0x0a; // '\n'
const CARRIAGE_RETURN = 0x0d; // '\r'

export class LineSplitter {
  readonly maxBytes: number;
  // Bytes, not text: a chunk may end in the middle of a character. The byte
  // 0x0a never occurs inside a multi-byte UTF-8 character, so a complete line
  // always holds whole characters.
  #rest = Buffer.alloc(0);

  constructor(maxBytes = 64 * 1024) {
    this.maxBytes = maxBytes;
  }

  push(chunk: Buffer): string[] {
    const bytes = this.#rest.length > 0 ? Buffer.concat([this.#rest, chunk]) : chunk;
    const lines: string[] = [];
    let start = 0;
    let newline: number;
    while ((newline = bytes.indexOf(NEWLINE, start)) !== -1) {
      this.#checkSize(newline - start);
      const end = newline > start && bytes[newline - 1] === CARRIAGE_RETURN ? newline - 1 : newline;
      lines.push(bytes.toString('utf8', start, end));
      start = newline + 1;
    }
    // A copy: the caller may reuse its chunk once push() returns.
    this.#rest = Buffer.from(bytes.subarray(start));
    // Refuse now: a peer that never sends \n must not fill our memory.
    this.#checkSize(this.#rest.length);
    return lines;
  }

  #checkSize(size: number): void {
    if (size > this.maxBytes) {
      this.#rest = Buffer.alloc(0);
      throw new Error(`line over the limit of ${this.maxBytes} bytes (${size} bytes so far)`);
    }
  }
}

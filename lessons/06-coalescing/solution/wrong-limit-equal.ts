// A known wrong answer: right in every way but the comparison. It refuses a
// line of exactly maxBytes bytes (>= instead of >), which the task allows.
// The check must fail it at "accepting lines of exactly maxBytes bytes (16)".

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export class LineSplitter {
  readonly maxBytes: number;
  #rest = Buffer.alloc(0);

  constructor(maxBytes = 64 * 1024) {
    this.maxBytes = maxBytes;
  }

  push(chunk: Buffer): string[] {
    const bytes = Buffer.concat([this.#rest, chunk]);
    const lines: string[] = [];
    let start = 0;
    let newline: number;
    while ((newline = bytes.indexOf(NEWLINE, start)) !== -1) {
      if (newline - start >= this.maxBytes) throw new Error(`line of ${this.maxBytes} bytes or more`);
      const end = newline > start && bytes[newline - 1] === CARRIAGE_RETURN ? newline - 1 : newline;
      lines.push(bytes.toString('utf8', start, end));
      start = newline + 1;
    }
    this.#rest = Buffer.from(bytes.subarray(start));
    if (this.#rest.length >= this.maxBytes) throw new Error(`line of ${this.maxBytes} bytes or more`);
    return lines;
  }
}

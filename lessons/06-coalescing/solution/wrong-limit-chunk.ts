// A known wrong answer: it decodes every line correctly, but it applies the
// limit to each chunk instead of each line. A chunk that holds several short
// lines is refused, although no line is too long. The check must fail it at
// "accepting lines of exactly maxBytes bytes (16)".

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export class LineSplitter {
  readonly maxBytes: number;
  #rest = Buffer.alloc(0);

  constructor(maxBytes = 64 * 1024) {
    this.maxBytes = maxBytes;
  }

  push(chunk: Buffer): string[] {
    if (this.#rest.length + chunk.length > this.maxBytes) {
      throw new Error(`more than ${this.maxBytes} bytes without a newline`);
    }
    const bytes = Buffer.concat([this.#rest, chunk]);
    const lines: string[] = [];
    let start = 0;
    let newline: number;
    while ((newline = bytes.indexOf(NEWLINE, start)) !== -1) {
      const end = newline > start && bytes[newline - 1] === CARRIAGE_RETURN ? newline - 1 : newline;
      lines.push(bytes.toString('utf8', start, end));
      start = newline + 1;
    }
    this.#rest = Buffer.from(bytes.subarray(start));
    return lines;
  }
}

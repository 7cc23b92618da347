// A known wrong answer: it decodes every line correctly and refuses a long
// line, but only once the line's \n has arrived. A peer that never sends \n
// makes it buffer for ever. The check must fail it at "refusing an endless
// line before its newline arrives".

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export class LineSplitter {
  readonly maxBytes: number;
  #parts: Buffer[] = [];

  constructor(maxBytes = 64 * 1024) {
    this.maxBytes = maxBytes;
  }

  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    let newline: number;
    while ((newline = chunk.indexOf(NEWLINE, start)) !== -1) {
      this.#parts.push(chunk.subarray(start, newline));
      let line = Buffer.concat(this.#parts);
      this.#parts = [];
      if (line.length > this.maxBytes) throw new Error(`line of ${line.length} bytes is over ${this.maxBytes} bytes`);
      if (line.at(-1) === CARRIAGE_RETURN) line = line.subarray(0, -1);
      lines.push(line.toString('utf8'));
      start = newline + 1;
    }
    if (start < chunk.length) this.#parts.push(Buffer.from(chunk.subarray(start)));
    return lines;
  }
}

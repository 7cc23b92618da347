// A known wrong answer: it finds the lines in the bytes and keeps the rest,
// but returns each line as a Buffer, never turning it into text. The check
// must fail it at "splitting lines sent one per chunk".

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
    const lines = [];
    let start = 0;
    let newline: number;
    while ((newline = bytes.indexOf(NEWLINE, start)) !== -1) {
      if (newline - start > this.maxBytes) throw new Error(`line over ${this.maxBytes} bytes`);
      const end = newline > start && bytes[newline - 1] === CARRIAGE_RETURN ? newline - 1 : newline;
      lines.push(bytes.subarray(start, end));
      start = newline + 1;
    }
    this.#rest = Buffer.from(bytes.subarray(start));
    if (this.#rest.length > this.maxBytes) throw new Error(`line over ${this.maxBytes} bytes`);
    return lines as unknown as string[];
  }
}

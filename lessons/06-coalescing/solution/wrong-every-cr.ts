// A known wrong answer: it keeps bytes and decodes whole lines, but it removes
// every \r in a line with replace(/\r/g, ''), not just the one before the \n.
// A \r that belongs to the line is lost. The check must fail it at "splitting
// lines sent one per chunk".

const NEWLINE = 0x0a;

export class LineSplitter {
  readonly maxBytes: number;
  #rest = Buffer.alloc(0);

  constructor(maxBytes = 64 * 1024) {
    this.maxBytes = maxBytes;
  }

  push(chunk: Buffer): string[] {
    let bytes = Buffer.concat([this.#rest, chunk]);
    const lines: string[] = [];
    let newline: number;
    while ((newline = bytes.indexOf(NEWLINE)) !== -1) {
      if (newline > this.maxBytes) throw new Error(`line longer than ${this.maxBytes} bytes`);
      lines.push(bytes.toString('utf8', 0, newline).replace(/\r/g, ''));
      bytes = bytes.subarray(newline + 1);
    }
    if (bytes.length > this.maxBytes) throw new Error(`line longer than ${this.maxBytes} bytes`);
    this.#rest = Buffer.from(bytes);
    return lines;
  }
}

// A known wrong answer: right in every way but one — it forgets the \r that
// telnet and Windows send before each \n, so such lines end in "\r". The
// check must fail it at "splitting lines sent one per chunk".

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
      if (newline > this.maxBytes) throw new Error(`line over ${this.maxBytes} bytes`);
      lines.push(bytes.toString('utf8', 0, newline));
      bytes = bytes.subarray(newline + 1);
    }
    if (bytes.length > this.maxBytes) throw new Error(`line over ${this.maxBytes} bytes`);
    this.#rest = Buffer.from(bytes);
    return lines;
  }
}

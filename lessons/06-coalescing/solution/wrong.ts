// A known wrong answer: it keeps the rest of the line, but as text. Each chunk
// is decoded on its own with toString(), so a character cut between two
// chunks turns into "�" (U+FFFD). The check must fail it at "decoding lines
// sent one byte at a time (every character cut)", showing the broken line.

export class LineSplitter {
  readonly maxBytes: number;
  #rest = '';

  constructor(maxBytes = 64 * 1024) {
    this.maxBytes = maxBytes;
  }

  push(chunk: Buffer): string[] {
    this.#rest += chunk.toString('utf8');
    const lines = this.#rest.split('\n');
    this.#rest = lines.pop() ?? '';
    if (Buffer.byteLength(this.#rest) > this.maxBytes) throw new Error(`line over ${this.maxBytes} bytes`);
    for (const line of lines) {
      if (Buffer.byteLength(line) > this.maxBytes) throw new Error(`line over ${this.maxBytes} bytes`);
    }
    return lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  }
}

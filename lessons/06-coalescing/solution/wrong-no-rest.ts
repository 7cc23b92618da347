// A known wrong answer: it splits each chunk on \n as if each chunk began a
// new line, and throws away what follows the last \n. That works while every
// chunk holds whole lines; once a line is cut, its parts are lost. The check
// must fail it at "splitting lines cut at random places between characters".

export class LineSplitter {
  readonly maxBytes: number;

  constructor(maxBytes = 64 * 1024) {
    this.maxBytes = maxBytes;
  }

  push(chunk: Buffer): string[] {
    const lines = chunk.toString('utf8').split('\n');
    lines.pop(); // the part after the last \n: not a whole line
    for (const line of lines) {
      if (Buffer.byteLength(line) > this.maxBytes) throw new Error(`line over ${this.maxBytes} bytes`);
    }
    return lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  }
}

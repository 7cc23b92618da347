// A known wrong answer that never returns: it loops while indexOf('\n') is
// "true", but indexOf() returns -1, which is true too, when there is no \n.
// Once the text holds no \n, the loop never ends (and keeps adding lines).
// The check must stop it at "splitting lines sent one per chunk".
import { StringDecoder } from 'node:string_decoder';

export class LineSplitter {
  readonly maxBytes: number;
  #decoder = new StringDecoder('utf8');
  #pending = '';

  constructor(maxBytes = 64 * 1024) {
    this.maxBytes = maxBytes;
  }

  push(chunk: Buffer): string[] {
    this.#pending += this.#decoder.write(chunk);
    const lines: string[] = [];
    let newline: number;
    while ((newline = this.#pending.indexOf('\n'))) {
      const line = this.#pending.slice(0, newline);
      if (Buffer.byteLength(line) > this.maxBytes) throw new Error(`line over ${this.maxBytes} bytes`);
      lines.push(line.endsWith('\r') ? line.slice(0, -1) : line);
      this.#pending = this.#pending.slice(newline + 1);
    }
    return lines;
  }
}

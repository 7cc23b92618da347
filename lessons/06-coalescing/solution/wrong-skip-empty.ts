// A known wrong answer: it splits the text on \n and filters out the empty
// strings, to get rid of the "" after the last \n. That also drops the empty
// lines a client sends ("\n\n" holds one). The check must fail it at
// "splitting lines sent one per chunk".
import { StringDecoder } from 'node:string_decoder';

export class LineSplitter {
  readonly maxBytes: number;
  #decoder = new StringDecoder('utf8');
  #rest = '';

  constructor(maxBytes = 64 * 1024) {
    this.maxBytes = maxBytes;
  }

  push(chunk: Buffer): string[] {
    const text = this.#rest + this.#decoder.write(chunk);
    const end = text.lastIndexOf('\n');
    this.#rest = text.slice(end + 1);
    if (Buffer.byteLength(this.#rest) > this.maxBytes) throw new Error(`line over ${this.maxBytes} bytes`);
    const lines = text
      .slice(0, end + 1)
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
    for (const line of lines) {
      if (Buffer.byteLength(line) > this.maxBytes) throw new Error(`line over ${this.maxBytes} bytes`);
    }
    return lines;
  }
}

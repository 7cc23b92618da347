// A known wrong answer: it decodes correctly with a StringDecoder (which holds
// back the bytes of a cut character), but it measures the limit in characters,
// not bytes: a line of 6 Chinese characters is 18 bytes. The check must fail
// it at "refusing a line over maxBytes bytes".
import { StringDecoder } from 'node:string_decoder';

export class LineSplitter {
  readonly maxBytes: number;
  #decoder = new StringDecoder('utf8');
  #rest = '';

  constructor(maxBytes = 64 * 1024) {
    this.maxBytes = maxBytes;
  }

  push(chunk: Buffer): string[] {
    this.#rest += this.#decoder.write(chunk);
    const lines = this.#rest.split('\n');
    this.#rest = lines.pop() ?? '';
    for (const line of [...lines, this.#rest]) {
      if (line.length > this.maxBytes) throw new Error(`line over ${this.maxBytes} characters`);
    }
    return lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  }
}

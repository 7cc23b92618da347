// Exercise 06 · A line splitter
//
// TCP delivers chunks, not lines. One 'data' event may hold half a line, or
// three lines and the start of a fourth. A chunk may even end in the middle
// of a UTF-8 character: 你 is 3 bytes, 😀 is 4. Write a LineSplitter that
// gets the lines back out of the chunks, however they were cut.
//
// One LineSplitter serves one connection: `new LineSplitter(maxBytes)`.
// A server may have many connections, so many LineSplitters at once.
// push(chunk) is called with each chunk in turn and returns the lines that
// this chunk completes (none, one or many), in order. It must:
//   1. end a line at each \n, and return it without the \n, and without the
//      one \r just before the \n (telnet and Windows send \r\n). Any other \r
//      belongs to the line and stays, so do spaces. An empty line is a line
//      too: "".
//   2. keep whatever comes after the last \n for the next push(): it is the
//      start of a line whose end has not arrived yet. Each LineSplitter keeps
//      its own: two at once must not mix their connections' lines;
//   3. decode each line as UTF-8 correctly, even when one of its characters
//      was split across two chunks (no "�", U+FFFD, in the lines);
//   4. refuse a line longer than maxBytes bytes (bytes, not characters; the
//      bytes before the \n): throw an Error whose message names the limit.
//      Throw as soon as the unfinished line is over the limit: do not wait
//      for a \n that may never come.
//
// The check feeds the same lines cut every way (one line per chunk, all in
// one chunk, one byte at a time, at random places), two streams at once to
// two LineSplitters, then over a real socket.
//
// Check your work: npm run check 06      Stuck? npm run hint 06

export class LineSplitter {
  readonly maxBytes: number;
  // TODO: keep the bytes of the unfinished line here, between two push() calls.

  constructor(maxBytes = 64 * 1024) {
    this.maxBytes = maxBytes;
  }

  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    // TODO: find each \n, turn the bytes of each complete line into text, and keep the rest.
    // TODO: throw an Error if a line is longer than this.maxBytes bytes.
    return lines;
  }
}

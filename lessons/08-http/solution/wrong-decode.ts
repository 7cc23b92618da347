// A known wrong answer: it turns each chunk into text as it arrives and counts
// bytes with Buffer.byteLength. The head is text, but a body is bytes: bytes that
// are not UTF-8 (a picture, a zip file) come back as "�" (U+FFFD), and so does a
// character cut between two chunks. The check must fail it at "reading requests
// sent one per chunk" (one of them has a binary body).

export interface Request {
  method: string;
  target: string;
  headers: Record<string, string>;
  body: Buffer;
}

export class RequestError extends Error {
  override name = 'RequestError';

  constructor(readonly status: 400 | 413 | 431, message: string) {
    super(message);
  }
}

function parseHead(text: string): Request {
  const [requestLine, ...lines] = text.split('\r\n');
  const [method, target] = requestLine.split(' ');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { method, target, headers, body: Buffer.alloc(0) };
}

function contentLength(headers: Record<string, string>, max: number): number {
  const value = headers['content-length'];
  if (value === undefined) return 0;
  if (!/^\d+$/.test(value)) throw new RequestError(400, `bad Content-Length: ${value}`);
  const length = Number(value);
  if (length > max) throw new RequestError(413, `body of ${value} bytes is over ${max}`);
  return length;
}

export class RequestReader {
  readonly maxHeadBytes: number;
  readonly maxBodyBytes: number;
  private text = '';

  constructor(maxHeadBytes = 16 * 1024, maxBodyBytes = 64 * 1024) {
    this.maxHeadBytes = maxHeadBytes;
    this.maxBodyBytes = maxBodyBytes;
  }

  push(chunk: Buffer): Request[] {
    const done: Request[] = [];
    this.text += chunk.toString('utf8');
    for (;;) {
      const end = this.text.indexOf('\r\n\r\n');
      if (end === -1) {
        if (Buffer.byteLength(this.text) > this.maxHeadBytes) throw new RequestError(431, `head over ${this.maxHeadBytes} bytes`);
        break;
      }
      if (Buffer.byteLength(this.text.slice(0, end + 4)) > this.maxHeadBytes) throw new RequestError(431, `head over ${this.maxHeadBytes} bytes`);
      const request = parseHead(this.text.slice(0, end));
      const length = contentLength(request.headers, this.maxBodyBytes);
      const rest = Buffer.from(this.text.slice(end + 4)); // bytes again, to count them
      if (rest.length < length) break;
      request.body = rest.subarray(0, length);
      this.text = rest.subarray(length).toString('utf8');
      done.push(request);
    }
    return done;
  }
}

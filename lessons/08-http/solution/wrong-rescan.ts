// A known wrong answer: it keeps every byte the connection ever sent and, at
// each push(), reads all the requests again from the first byte, returning the
// ones it had not returned yet. Each answer is right, but each push() costs more
// than the one before: the work grows with the square of what was sent. The
// check must fail it at "reading 2000 pipelined requests in small pieces, in
// time that grows with the bytes".

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

const END = Buffer.from('\r\n\r\n');

export class RequestReader {
  readonly maxHeadBytes: number;
  readonly maxBodyBytes: number;
  private received = Buffer.alloc(0);
  private returned = 0;

  constructor(maxHeadBytes = 16 * 1024, maxBodyBytes = 64 * 1024) {
    this.maxHeadBytes = maxHeadBytes;
    this.maxBodyBytes = maxBodyBytes;
  }

  push(chunk: Buffer): Request[] {
    this.received = Buffer.concat([this.received, chunk]);
    const all: Request[] = [];
    let data = this.received;
    for (;;) {
      const end = data.indexOf(END);
      if (end === -1) {
        if (data.length > this.maxHeadBytes) throw new RequestError(431, `head over ${this.maxHeadBytes} bytes`);
        break;
      }
      if (end + 4 > this.maxHeadBytes) throw new RequestError(431, `head over ${this.maxHeadBytes} bytes`);
      const request = parseHead(data.toString('latin1', 0, end));
      const length = contentLength(request.headers, this.maxBodyBytes);
      if (data.length < end + 4 + length) break;
      request.body = Buffer.from(data.subarray(end + 4, end + 4 + length));
      all.push(request);
      data = data.subarray(end + 4 + length);
    }
    const fresh = all.slice(this.returned);
    this.returned = all.length;
    return fresh;
  }
}

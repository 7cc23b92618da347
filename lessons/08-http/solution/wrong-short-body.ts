// A known wrong answer: it takes the body from the bytes after the head without
// checking that all Content-Length bytes have arrived. When the body is cut
// between chunks, the request comes out with part of its body, and the rest of
// the body is read as the next request. The check must fail it at "reading
// requests sent one byte at a time".

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
  private buffer = Buffer.alloc(0);

  constructor(maxHeadBytes = 16 * 1024, maxBodyBytes = 64 * 1024) {
    this.maxHeadBytes = maxHeadBytes;
    this.maxBodyBytes = maxBodyBytes;
  }

  push(chunk: Buffer): Request[] {
    const done: Request[] = [];
    let data = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const end = data.indexOf(END);
      if (end === -1) {
        if (data.length > this.maxHeadBytes) throw new RequestError(431, `head over ${this.maxHeadBytes} bytes`);
        break;
      }
      if (end + 4 > this.maxHeadBytes) throw new RequestError(431, `head over ${this.maxHeadBytes} bytes`);
      const request = parseHead(data.toString('latin1', 0, end));
      const length = contentLength(request.headers, this.maxBodyBytes);
      request.body = Buffer.from(data.subarray(end + 4, end + 4 + length));
      data = data.subarray(end + 4 + request.body.length);
      done.push(request);
    }
    this.buffer = Buffer.from(data);
    return done;
  }
}

// A known wrong answer: it keeps header names as the client wrote them and looks
// for 'Content-Length' exactly. HTTP names are case-insensitive: a client may
// send content-length or CONTENT-LENGTH, and then the body is taken for the next
// request. The check must fail it at "giving header names in lower case,
// whatever case they were sent in".

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
    headers[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return { method, target, headers, body: Buffer.alloc(0) };
}

function contentLength(headers: Record<string, string>, max: number): number {
  const value = headers['Content-Length'];
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
  private buffer = Buffer.alloc(0); // the start of a head
  private waiting: Request | null = null; // a request whose body is arriving
  private bodyLength = 0;
  private bodyParts: Buffer[] = [];
  private bodyBytes = 0;

  constructor(maxHeadBytes = 16 * 1024, maxBodyBytes = 64 * 1024) {
    this.maxHeadBytes = maxHeadBytes;
    this.maxBodyBytes = maxBodyBytes;
  }

  push(chunk: Buffer): Request[] {
    const done: Request[] = [];
    let data = this.buffer.length > 0 ? Buffer.concat([this.buffer, chunk]) : chunk;
    this.buffer = Buffer.alloc(0);
    while (data.length > 0) {
      if (this.waiting) {
        const part = data.subarray(0, this.bodyLength - this.bodyBytes);
        this.bodyParts.push(Buffer.from(part));
        this.bodyBytes += part.length;
        data = data.subarray(part.length);
        if (this.bodyBytes === this.bodyLength) {
          this.waiting.body = Buffer.concat(this.bodyParts);
          done.push(this.waiting);
          this.waiting = null;
          this.bodyParts = [];
          this.bodyBytes = 0;
        }
        continue;
      }
      const end = data.indexOf(END);
      if (end === -1) {
        if (data.length > this.maxHeadBytes) throw new RequestError(431, `head over ${this.maxHeadBytes} bytes`);
        this.buffer = Buffer.from(data);
        break;
      }
      if (end + 4 > this.maxHeadBytes) throw new RequestError(431, `head over ${this.maxHeadBytes} bytes`);
      const request = parseHead(data.toString('latin1', 0, end));
      const length = contentLength(request.headers, this.maxBodyBytes);
      data = data.subarray(end + 4);
      if (length === 0) {
        done.push(request);
        continue;
      }
      this.waiting = request;
      this.bodyLength = length;
    }
    return done;
  }
}

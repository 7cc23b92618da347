// Lesson 08 — HTTP is TCP plus framing: an HTTP/1.1 server written on net,
// then the same answers from http.createServer, and what http adds.
// Run: npm run lesson 08        (or: npm run lesson 08 -- --serve [--server http])
import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { UsageError, finishConnection, listening, serve, type FlagSpec, type LessonOptions } from '../shared/cli.ts';
import { Timeline, width } from '../shared/timeline.ts';
import {
  HttpError, LAST_CHUNK, MAX_BODY_BYTES, MAX_HEAD_BYTES, REASONS, RequestDecoder, ResponseDecoder, checkBodySize, encodeChunk, responseHead,
  type HttpRequest, type HttpResponse, type RequestLimits,
} from './http1.ts';

export const flags: Record<string, FlagSpec> = {
  server: { type: 'string', hint: 'net|http', help: 'with --serve: our server written on net (default), or http.createServer' },
};

// ── The application: what both servers answer ───────────────────────────────

export interface Reply {
  status: number;
  type: string;
  /** a body whose length is known before the head goes out */
  body?: string | Buffer;
  /** a body made piece by piece: its length is not known when the head goes out */
  pieces?: () => AsyncIterable<string>;
}

const TEXT = 'text/plain; charset=utf-8';

/** The answer to a request, whichever server parsed it. */
export function route(method: string, target: string, body: Buffer): Reply {
  const path = target.split('?')[0];
  const read = method === 'GET' || method === 'HEAD';
  if (read && (path === '/' || path === '/hello')) return { status: 200, type: TEXT, body: 'hello\n' };
  if (method === 'POST' && path === '/echo') return { status: 200, type: 'application/octet-stream', body };
  if (read && path === '/stream') return { status: 200, type: TEXT, pieces: countdown };
  return { status: 404, type: TEXT, body: `nothing at ${method} ${path}\n` };
}

/** Three lines, one per turn of the event loop, as if each took work to make. */
async function* countdown(): AsyncIterable<string> {
  for (const line of ['three\n', 'two\n', 'one\n']) {
    await new Promise((resolve) => setImmediate(resolve));
    yield line;
  }
}

// ── Part 1: an HTTP/1.1 server written on net ───────────────────────────────

/** How long a connection may be silent (nothing read, nothing written) before we close it. */
export const IDLE_TIMEOUT_MS = 5000;
/** After our last response: how long we keep reading (and dropping) until the client's FIN. */
export const LINGER_MS = 2000;
/** …and how much: a client that keeps sending after our FIN is not listening, and is cut off. */
export const LINGER_BYTES = 4 * 1024 * 1024;

export interface NetHttpOptions extends RequestLimits {
  idleTimeout?: number;
  /** after our last response, how long a silent client may keep the connection (LINGER_MS) */
  lingerMs?: number;
  /** sees each request once it is complete (the lesson draws them) */
  onRequest?: (request: HttpRequest) => void;
}

/**
 * HTTP/1.1 on a plain TCP server: decode requests from the chunks (http1.ts),
 * answer them in order, keep the connection for the next one.
 */
export function createNetHttpServer(options: NetHttpOptions = {}): net.Server {
  const { idleTimeout = IDLE_TIMEOUT_MS, lingerMs = LINGER_MS, onRequest = () => {}, ...limits } = options;
  // noDelay: each response leaves at once, as http does (lesson 05). allowHalfOpen: a client may
  // send its request and then its FIN; we still answer before we end our side.
  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    // Without an 'error' listener a client that resets would crash the process.
    socket.on('error', () => {});
    socket.setTimeout(idleTimeout);
    const decoder = new RequestDecoder(limits);
    const queue: HttpRequest[] = [];
    let refused: HttpError | undefined;
    let answering = false;
    let clientEnded = false;
    let closing = false;

    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk, (request) => queue.push(request)); // zero, one or many requests: a chunk is not a request
      } catch (err) {
        // Answered after the requests before it, so nothing the client sent earlier is lost.
        refused = err instanceof HttpError ? err : new HttpError(400, String(err));
      }
      void answerQueued();
    });
    socket.on('end', () => {
      clientEnded = true;
      void answerQueued();
    });
    socket.on('timeout', () => {
      if (closing || answering) socket.destroy(); // a client that does not read our answer, or does not leave
      else if (decoder.idle) close(); // kept alive, and nothing came: we end it
      else {
        refused = new HttpError(408, `no complete request within ${idleTimeout} ms`);
        void answerQueued();
      }
    });

    async function answerQueued(): Promise<void> {
      if (answering || closing) return;
      answering = true;
      // Read nothing more until these are answered: a client that sends without reading waits for us.
      socket.pause();
      while (queue.length > 0 && !socket.destroyed && !socket.writableEnded) {
        const request = queue.shift()!;
        onRequest(request);
        // Like http.Server: 'request' as an answer starts, 'close' on its response once it is
        // written. serve() waits for that before it ends a connection on Ctrl-C.
        const response = new EventEmitter();
        server.emit('request', { socket }, response);
        const keepAlive = await respond(socket, request, route(request.method, request.target, request.body));
        response.emit('close');
        if (!keepAlive) return close();
      }
      answering = false;
      if (socket.destroyed || socket.writableEnded) return; // stopped from outside (serve() on Ctrl-C)
      if (refused) return refuse(refused);
      if (clientEnded) return decoder.idle ? close() : refuse(new HttpError(400, 'the connection ended in the middle of a request'));
      socket.resume();
    }

    function refuse(err: HttpError): void {
      const body = Buffer.from(`${err.message}\n`);
      socket.write(Buffer.concat([responseHead(err.status, { 'Content-Type': TEXT, 'Content-Length': body.length, Connection: 'close' }), body]));
      close();
    }

    function close(): void {
      // FIN after our last response, then read and drop whatever still comes until the
      // client's FIN: closing with unread bytes would send a reset, which can destroy
      // our last response before the client reads it.
      closing = true;
      finishConnection(socket);
      socket.setTimeout(lingerMs);
      let dropped = 0;
      socket.on('data', (chunk: Buffer) => {
        dropped += chunk.length;
        if (dropped > LINGER_BYTES) socket.destroy();
      });
    }
  });
  return server;
}

/** Write one response. Resolves once it is written, with whether the connection stays open. */
async function respond(socket: net.Socket, request: HttpRequest, reply: Reply): Promise<boolean> {
  const withBody = request.method !== 'HEAD'; // the answer to HEAD is the head alone
  const headers: Record<string, string | number> = { 'Content-Type': reply.type };
  if (reply.pieces) {
    // The length is not known yet: HTTP/1.1 sends the body in chunks. HTTP/1.0 has no
    // chunks, so there the end of the body is our close.
    const chunked = request.version === '1.1';
    const keepAlive = chunked && request.keepAlive;
    if (chunked) headers['Transfer-Encoding'] = 'chunked';
    if (!keepAlive) headers.Connection = 'close';
    await send(socket, responseHead(reply.status, headers));
    if (withBody) {
      for await (const piece of reply.pieces()) await send(socket, chunked ? encodeChunk(piece) : Buffer.from(piece));
      if (chunked) await send(socket, LAST_CHUNK);
    }
    return keepAlive;
  }
  const body = Buffer.from(reply.body ?? '');
  headers['Content-Length'] = body.length; // bytes, not characters
  if (!request.keepAlive) headers.Connection = 'close';
  else if (request.version === '1.0') headers.Connection = 'keep-alive'; // a 1.0 client expects a close unless told
  const head = responseHead(reply.status, headers);
  // Head and body in one write(): a small response leaves as one segment.
  await send(socket, withBody ? Buffer.concat([head, body]) : head);
  return request.keepAlive;
}

/** write(); when it returns false, wait for 'drain' (or 'close') before writing more: back-pressure. */
function send(socket: net.Socket, data: Buffer): Promise<void> {
  if (socket.destroyed || socket.write(data)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

// ── Part 2: the same answers from http.createServer ─────────────────────────

/**
 * The same application on http: it parses, frames, keeps connections alive and
 * times them out for us. Only the body limit is ours to keep.
 */
export function createNodeHttpServer(options: http.ServerOptions = {}): http.Server {
  return http.createServer(options, (req, res) => {
    let body: Promise<Buffer>;
    try {
      checkBodySize(req.headers['content-length'], MAX_BODY_BYTES); // 413 before reading any of the body
      body = readBody(req, MAX_BODY_BYTES);
    } catch (err) {
      return void refuseWith(res, err as HttpError);
    }
    body
      .then(
        (bytes) => answer(req, res, route(req.method ?? 'GET', req.url ?? '/', bytes)),
        (err: Error) => (err instanceof HttpError ? refuseWith(res, err) : res.destroy()), // not ours: the client left mid-body
      )
      .catch(() => res.destroy()); // the client left while we answered: nothing to answer to
  });
}

/** The whole request body (http has already decoded a chunked one), up to a limit. */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (part: Buffer) => {
      size += part.length;
      if (size > max) {
        req.pause();
        reject(new HttpError(413, `a body over ${max} bytes`));
      } else parts.push(part);
    });
    req.on('end', () => resolve(Buffer.concat(parts, size)));
    req.on('error', reject);
  });
}

async function answer(req: http.IncomingMessage, res: http.ServerResponse, reply: Reply): Promise<void> {
  if (reply.pieces) {
    // No Content-Length: http sends the body chunked (to an HTTP/1.0 client: until it closes).
    res.writeHead(reply.status, { 'Content-Type': reply.type });
    for await (const piece of reply.pieces()) {
      if (res.destroyed) return; // the client has gone
      if (!res.write(piece)) await new Promise((resolve) => res.once('drain', resolve).once('close', resolve));
    }
    res.end();
    return;
  }
  const body = Buffer.from(reply.body ?? '');
  res.writeHead(reply.status, { 'Content-Type': reply.type, 'Content-Length': body.length });
  res.end(body); // http leaves out the body of an answer to HEAD by itself
}

function refuseWith(res: http.ServerResponse, err: HttpError): void {
  const body = Buffer.from(`${err.message}\n`);
  res.writeHead(err.status, { 'Content-Type': TEXT, 'Content-Length': body.length, Connection: 'close' });
  res.end(body);
}

// ── A client that frames responses the same way ─────────────────────────────

/** A raw HTTP/1.1 request, as bytes. */
export function request(method: string, target: string, body?: string, headers: Record<string, string> = {}): Buffer {
  const bytes = Buffer.from(body ?? '');
  const all: Record<string, string | number> = { Host: '127.0.0.1', ...headers };
  if (body !== undefined) all['Content-Length'] = bytes.length;
  const head = [`${method} ${target} HTTP/1.1`, ...Object.entries(all).map(([name, value]) => `${name}: ${value}`)].join('\r\n');
  return Buffer.concat([Buffer.from(`${head}\r\n\r\n`), bytes]);
}

export interface HttpConnection {
  socket: net.Socket;
  responses: HttpResponse[];
  /** resolves once `count` responses in all have arrived; rejects if the connection ends first */
  received(count: number): Promise<HttpResponse[]>;
  /** resolves when the server has ended the connection (its FIN) */
  ended: Promise<void>;
}

/** Read responses from `socket` as they arrive, with a ResponseDecoder. */
export function readResponses(socket: net.Socket, onResponse: (response: HttpResponse) => void = () => {}): HttpConnection {
  const decoder = new ResponseDecoder();
  const responses: HttpResponse[] = [];
  const waiters = new Set<() => void>();
  let ended = false;
  let failure: Error | undefined;
  const got = (response: HttpResponse) => {
    responses.push(response);
    onResponse(response);
  };
  const wake = () => {
    for (const waiter of waiters) waiter();
  };
  socket.on('data', (chunk: Buffer) => {
    try {
      decoder.push(chunk, got);
    } catch (err) {
      failure = err as Error;
      socket.destroy();
    }
    wake();
  });
  const endedPromise = new Promise<void>((resolve) => {
    socket.once('end', () => {
      try {
        decoder.end(got);
      } catch (err) {
        failure = err as Error;
      }
      ended = true;
      wake();
      resolve();
    });
  });
  socket.on('close', () => {
    ended = true;
    wake();
  });
  return {
    socket,
    responses,
    ended: endedPromise,
    received: (count) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (responses.length >= count) resolve(responses.slice(0, count));
          else if (failure || ended) reject(failure ?? new Error(`the connection ended after ${responses.length} of ${count} responses`));
          else return;
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
  };
}

/**
 * One request on a new connection: send `bytes` (then FIN if `end`), wait for
 * the first response (or the server's close), then end the connection.
 */
export async function exchange(port: number, host: string, bytes: Buffer, { end = false } = {}): Promise<HttpResponse | undefined> {
  const socket = net.connect({ port, host, noDelay: true });
  socket.on('error', () => {}); // a server that refuses may also reset: what arrived before still counts
  const connection = readResponses(socket);
  socket.write(bytes);
  if (end) socket.end();
  await connection.received(1).catch(() => {});
  socket.end();
  if (!socket.closed) await once(socket, 'close');
  return connection.responses[0];
}

// ── The lesson ──────────────────────────────────────────────────────────────

/** The requests of part 1, in order. */
export const SCRIPT = {
  hello: request('GET', '/hello'),
  echo: request('POST', '/echo', '你好, HTTP'), // 12 bytes, 8 characters
  pipelined: Buffer.concat([request('GET', '/hello'), request('GET', '/stream')]),
  close: request('GET', '/missing', undefined, { Connection: 'close' }),
};

/** Where a head is cut in part 1: in the middle of the Host line. */
export const HEAD_CUT = 24;

/** Our server, with its connections, chunks and decoded requests on a timeline (what --serve runs). */
export function drawnNetServer(timeline: Timeline): net.Server {
  const server = createNetHttpServer({
    onRequest: (r) => timeline.server('request', `${r.method} ${r.target}${r.body.length > 0 ? ` + ${r.body.length} B body` : ''}`),
  });
  // Prepended, so the timeline sees each chunk before the server decodes it.
  server.prependListener('connection', (socket: net.Socket) => {
    timeline.server('connection', `from port ${socket.remotePort}`);
    timeline.watch(socket, 'server', ['data', 'end', 'close']);
  });
  return server;
}

/** http's server, with its connections and requests on a timeline (--serve --server http). */
export function drawnNodeServer(timeline: Timeline): http.Server {
  const server = createNodeHttpServer();
  server.prependListener('connection', (socket: net.Socket) => {
    timeline.server('connection', `from port ${socket.remotePort}`);
    timeline.watch(socket, 'server', ['end', 'close']);
  });
  server.prependListener('request', (req: http.IncomingMessage) => timeline.server('request', `${req.method} ${req.url}`));
  return server;
}

export function summary(r: HttpResponse | undefined): string {
  if (!r) return 'no response';
  const text = JSON.stringify(r.body.toString());
  return `${r.status} · ${r.framing} · ${text.length > 24 ? `${text.slice(0, 22)}…"` : text}`;
}

function status(r: HttpResponse | undefined): string {
  return r ? `${r.status} ${REASONS[r.status] ?? ''}`.trim() : 'no response';
}

/**
 * Part 1's requests on one connection, each sent once the answers before it
 * have arrived. `betweenParts`, if given, runs after the first head's first
 * part: the head then goes in two writes.
 */
export async function playScript(connection: HttpConnection, betweenParts?: () => Promise<unknown>): Promise<HttpResponse[]> {
  const { socket } = connection;
  if (socket.connecting) await once(socket, 'connect');
  // a) A head in two writes: nothing to answer until \r\n\r\n has arrived.
  if (betweenParts) {
    socket.write(SCRIPT.hello.subarray(0, HEAD_CUT));
    await betweenParts();
    socket.write(SCRIPT.hello.subarray(HEAD_CUT));
  } else socket.write(SCRIPT.hello);
  await connection.received(1);
  // b) A body framed by Content-Length (bytes, not characters), sent with its head.
  socket.write(SCRIPT.echo);
  await connection.received(2);
  // c) Two requests in one write (pipelining): two answers, in order. The second is chunked.
  socket.write(SCRIPT.pipelined);
  await connection.received(4);
  // d) Connection: close: the server answers, then ends the connection.
  socket.write(SCRIPT.close);
  await connection.received(5);
  if (!socket.closed) await once(socket, 'close'); // after the server's FIN, Node ends our side too (allowHalfOpen: false)
  return connection.responses;
}

/** Part 1's requests, the head not cut, on a new connection: to compare servers. */
export function keepAliveRun(port: number, host: string): Promise<HttpResponse[]> {
  return playScript(readResponses(net.connect({ port, host, noDelay: true })));
}

/** Requests each on its own connection: refused, or framed in another way. Compared by status (and body where both send one). */
export const EDGES: { label: string; bytes: Buffer; end?: boolean }[] = [
  { label: `a head of over ${(MAX_HEAD_BYTES + 4096) / 1024} KiB, no end yet`, bytes: Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(MAX_HEAD_BYTES + 4096)}`) },
  { label: 'Content-Length: 1000000000000', bytes: Buffer.from('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n') },
  { label: 'HTTP/1.1 without Host', bytes: Buffer.from('GET /hello HTTP/1.1\r\n\r\n') },
  { label: '"hello from nc\\n", then FIN', bytes: Buffer.from('hello from nc\n'), end: true },
  { label: 'GET /stream HTTP/1.0', bytes: Buffer.from('GET /stream HTTP/1.0\r\n\r\n') },
  { label: 'a chunked request body', bytes: Buffer.from('POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n') },
];

export async function main(opts: LessonOptions): Promise<void> {
  const which = opts.extra.server ?? 'net';
  if (which !== 'net' && which !== 'http') throw new UsageError(`--server must be net or http (got ${JSON.stringify(which)})`);
  if (opts.serve) return serveLesson(which, opts);

  // 1. Our server on net: one keep-alive connection, drawn.
  const timeline = new Timeline();
  const ours = drawnNetServer(timeline);
  ours.listen(opts.port, opts.host);
  const { address, port } = await listening(ours);
  const accepted = once(ours, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ port, host: address, noDelay: true });
  timeline.watch(client, 'client', ['data', 'end', 'close']);
  const connection = readResponses(client, (r) => timeline.client('response', `${r.status} · ${r.body.length} B (${r.framing === 'content-length' ? 'length' : r.framing})`));
  const [serverSide] = await accepted;
  // The head of the first request in two writes: the second once the server has read the first.
  await playScript(connection, () => once(serverSide, 'data'));
  console.log(`Our HTTP/1.1 server on net, one keep-alive connection:\n\n${timeline.render()}`);

  // 2. The same client against http.createServer.
  const theirs = createNodeHttpServer();
  theirs.listen(opts.port, opts.host);
  const node = await listening(theirs);
  const mine = await keepAliveRun(port, address);
  const its = await keepAliveRun(node.port, node.address);
  const rows: [string, string, string][] = [
    ['GET /hello', summary(mine[0]), summary(its[0])],
    ['POST /echo, 12-byte body', summary(mine[1]), summary(its[1])],
    ['GET /hello  } one write()', summary(mine[2]), summary(its[2])],
    ['GET /stream }', summary(mine[3]), summary(its[3])],
    ['GET /missing, Connection: close', summary(mine[4]), summary(its[4])],
  ];
  for (const edge of EDGES) {
    const a = await exchange(port, address, edge.bytes, edge);
    const b = await exchange(node.port, node.address, edge.bytes, edge);
    // Refusals: http sends no body with its own, so compare the status alone.
    const statusOnly = (a?.status ?? 0) >= 400 || (b?.status ?? 0) >= 400;
    rows.push([edge.label, statusOnly ? status(a) : summary(a), statusOnly ? status(b) : summary(b)]);
  }
  console.log('\nThe same requests, our server on net and http.createServer (status · framing · body):\n');
  console.log(table(rows));
  const added = Object.keys(its[0].headers).filter((name) => !(name in mine[0].headers));
  console.log(`\nHeaders http added to its answers: ${added.join(', ')} (${added.map((n) => `${n}: ${its[0].headers[n]}`).filter((h) => !h.startsWith('date')).join('; ')})`);
  ours.close();
  theirs.close();
  await Promise.all([once(ours, 'close'), once(theirs, 'close')]);

  // 3. What http does for you, with this Node's defaults.
  const fresh = http.createServer();
  const socketTimeout = `${fresh.keepAliveTimeout} ms + ${(fresh as { keepAliveTimeoutBuffer?: number }).keepAliveTimeoutBuffer ?? 1000} ms`;
  console.log(`\nhttp.createServer() on Node ${process.versions.node}:`);
  console.log(`  keepAliveTimeout   ${fresh.keepAliveTimeout} ms   an idle kept-alive connection is closed after ${socketTimeout}`);
  console.log(`  headersTimeout     ${fresh.headersTimeout} ms  the whole head must arrive within it (408 otherwise)`);
  console.log(`  requestTimeout     ${fresh.requestTimeout} ms the whole request, body included (408)`);
  console.log(`  maxHeaderSize      ${http.maxHeaderSize} bytes (431 beyond it, before the head is complete)`);
  console.log(`  noDelay            ${(fresh as { noDelay?: boolean }).noDelay} (Nagle off on every connection: lesson 05)`);
}

function table(rows: [string, string, string][]): string {
  const widths = [0, 1].map((i) => Math.max(...rows.map((r) => width(r[i]))));
  const pad = (text: string, w: number) => text + ' '.repeat(Math.max(0, w - width(text)));
  const header = `${pad('request', widths[0])}  ${pad('our server on net', widths[1])}  http.createServer`;
  const lines = rows.map(([request, ours, its]) => `${pad(request, widths[0])}  ${pad(ours, widths[1])}  ${its === ours ? 'the same' : its}`);
  return [header, '─'.repeat(width(header) + 4), ...lines].join('\n');
}

function serveLesson(which: 'net' | 'http', opts: LessonOptions): Promise<void> {
  const timeline = new Timeline({ live: true });
  const server = which === 'http' ? drawnNodeServer(timeline) : drawnNetServer(timeline);
  return serve(server, opts, {
    commands: (host, port) => {
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      return [
        `curl -v ${url}/hello`,
        `curl -v --data-binary 'hi there' ${url}/echo`,
        `curl -v ${url}/stream`,
        `printf 'GET /hello HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | nc ${host} ${port}`,
        `socat - TCP:${host.includes(':') ? `[${host}]` : host}:${port},crlf   (type: GET /hello HTTP/1.1, Host: x, an empty line)`,
      ];
    },
    note: which === 'http'
      ? 'This is http.createServer with the lesson\'s routes: /hello, POST /echo, /stream. --server net runs ours.'
      : `This is our server written on net: /hello, POST /echo, /stream. A head over ${MAX_HEAD_BYTES} bytes gets 431, a body over ${MAX_BODY_BYTES} bytes 413. --server http runs http's.`,
  });
}

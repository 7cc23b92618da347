// Lesson 09 — TLS and HTTPS: the same TCP connection, encrypted and
// authenticated. Certificates made for this run, the handshake on the wire and
// what it costs, what verification refuses and why, records, ALPN, https.
// Run: npm run lesson 09        (or: npm run lesson 09 -- --serve, or -- --delay 50)
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream';
import tls from 'node:tls';
import { countChunks, createCounter, type Tally } from '../06-coalescing/lesson.ts';
import { listening, positiveInt, serve, type FlagSpec, type LessonOptions } from '../shared/cli.ts';
import { closed, readAll, readUntil } from '../shared/read.ts';
import { Timeline } from '../shared/timeline.ts';
import { SERVER_NAME, makeCertificates, selfSigned, type KeyAndCert } from './certs.ts';
import { createRelay, describeRecords, flights, type WireChunk } from './relay.ts';

export { SERVER_NAME } from './certs.ts';

export const DEFAULT_DELAY_MS = 20;
export const MAX_DELAY_MS = 500;
export const flags: Record<string, FlagSpec> = {
  delay: { type: 'string', hint: '<ms>', help: `one-way delay of the far-away path when the handshake is timed (default ${DEFAULT_DELAY_MS}, at most ${MAX_DELAY_MS})` },
};

/** A client that has not finished its handshake by then is dropped (Node's default is 120 s). */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** The largest request body the https server reads (--serve): bigger ones get 413 and the connection closes. */
export const MAX_BODY = 4 * 1024 * 1024;
/** The most plaintext one TLS record carries (RFC 8446 §5.1): the largest 'data' chunk a TLS socket gives. */
export const MAX_RECORD = 16 * 1024;

type Address = { port: number; host: string };

// ── Servers ────────────────────────────────────────────────────────────────

/** Capitals for a–z, every other byte unchanged: bytes in, bytes out, nothing held back. */
export function shout(chunk: Buffer): Buffer {
  const out = Buffer.from(chunk);
  for (let i = 0; i < out.length; i++) if (out[i] >= 0x61 && out[i] <= 0x7a) out[i] -= 0x20;
  return out;
}

/** Lesson 04's echo, encrypted: every byte comes back, a–z in capitals. */
export function createTlsServer(creds: KeyAndCert, options: tls.TlsOptions = {}): tls.Server {
  const server = tls.createServer({ ...creds, handshakeTimeout: HANDSHAKE_TIMEOUT_MS, ...options }, (socket) => {
    // This is 'secureConnection': the handshake is done, and `socket` reads and writes plain text.
    // A client that resets must not crash the server. And after the handshake a TLS error (a record
    // that fails its check) leaves the socket open: Node emits 'error' but does not destroy it.
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      // false: the client is not reading fast enough. Stop reading until the reply has gone out.
      if (!socket.write(shout(chunk))) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    });
    // No 'end' handler: after the client's end() Node ends our side, once every reply is sent.
  });
  return dropFailedHandshakes(server);
}

/**
 * Errors before the handshake is done (garbage, a reset, a client that refused
 * our certificate, a handshake timeout) never reach a socket listener: the
 * server emits 'tlsClientError'. On a timeout Node only reports it and leaves
 * the socket open ("the server must also abort the connection", says Node's
 * list of errors): destroy it, or a silent client holds it for ever.
 */
export function dropFailedHandshakes<S extends tls.Server>(server: S): S {
  server.on('tlsClientError', (_err, socket) => socket.destroy());
  return server;
}

/** https.createServer: an http server whose connections are TLS sockets. */
export function createHttpsServer(creds: KeyAndCert): https.Server {
  const server = https.createServer({ ...creds, handshakeTimeout: HANDSHAKE_TIMEOUT_MS }, (req, res) => {
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    // Count a request body and drop it, reading it all (an answer sent earlier would cut the upload),
    // up to MAX_BODY: past that, answer 413 and close, instead of decrypting all a client sends.
    let body = 0;
    req.on('data', (chunk: Buffer) => {
      body += chunk.length;
      if (body > MAX_BODY && !res.headersSent) {
        res.writeHead(413, { connection: 'close' });
        res.end(`request body over ${MAX_BODY} B, not read\n`);
      }
    });
    req.on('end', () => {
      if (res.headersSent) return;
      const socket = req.socket as tls.TLSSocket;
      const sent = body > 0 ? ` and sent ${body} B` : '';
      res.end(`hello over HTTPS: ${socket.getProtocol()}, ALPN ${socket.alpnProtocol || 'none'}, you asked for ${req.method} ${req.url}${sent}\n`);
    });
  });
  return dropFailedHandshakes(server);
}

/**
 * A man in the middle: a TLS server with a certificate for the right name
 * from the wrong authority. It decrypts what each client sends, shows it to
 * `spy`, and passes it on to the real server over its own TLS connection.
 */
export function createManInTheMiddle(impostor: KeyAndCert, real: Address & { ca: string }, spy: (text: string) => void): tls.Server {
  const server = tls.createServer({ ...impostor, handshakeTimeout: HANDSHAKE_TIMEOUT_MS }, (victim) => {
    victim.on('error', () => victim.destroy());
    const upstream = tls.connect({ ...real, servername: SERVER_NAME });
    upstream.on('error', () => victim.destroy());
    victim.on('data', (chunk: Buffer) => spy(chunk.toString()));
    pipeline(victim, upstream, victim, () => {});
  });
  return dropFailedHandshakes(server);
}

/** listen() on the lesson's host, port 0: every helper server of the run. */
async function start(server: net.Server, host: string): Promise<Address> {
  server.listen(0, host);
  const { port } = await listening(server);
  return { port, host };
}

async function stop(...servers: net.Server[]): Promise<void> {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
}

// ── The handshake and what it costs ──────────────────────────────────────────

export interface Handshake {
  /** ms from tls.connect() to 'connect' (TCP is up) and to 'secureConnect' (TLS is up) */
  connectMs: number;
  secureMs: number;
  /** CPU time this process used between the two (client and server together) */
  cpuMs: number;
  protocol: string | null;
  /** what a relay saw before 'secureConnect', when the client went through one */
  wire: WireChunk[];
}

/** Connect, wait for 'secureConnect', note the times, close. `wire` is the live list of a relay's chunks. */
export async function timeHandshake(to: Address, options: tls.ConnectionOptions, wire: WireChunk[] = []): Promise<Handshake> {
  const before = wire.length;
  const started = performance.now();
  const socket = tls.connect({ ...to, ...options });
  let connectMs = NaN;
  let cpu = process.cpuUsage();
  socket.once('connect', () => {
    connectMs = performance.now() - started;
    cpu = process.cpuUsage();
  });
  await once(socket, 'secureConnect');
  const secureMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const result = { connectMs, secureMs, cpuMs: (used.user + used.system) / 1000, protocol: socket.getProtocol(), wire: wire.slice(before) };
  socket.end();
  await once(socket, 'close');
  return result;
}

/** Round trips before 'secureConnect': each flight from the server answers one from the client. */
export function serverFlights(wire: readonly WireChunk[]): number {
  return flights(wire).filter((f) => f.from === 'server').length;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** One echo round trip on an open TLS connection: a byte out, its capital back. */
export async function echoRoundTrip(socket: tls.TLSSocket): Promise<number> {
  const started = performance.now();
  const back = once(socket, 'data');
  socket.write('x');
  await back;
  return performance.now() - started;
}

// ── Verification ─────────────────────────────────────────────────────────────

export interface Outcome {
  /** the 'error' code when the client refused (or failed) */
  code?: string;
  authorized?: boolean;
  authorizationError?: string;
  /** the server's answer to `secret`, when the connection went through */
  reply?: string;
}

/** A client that sends `secret` once the connection is secure, and reads the answer. */
export function tryConnect(to: Address, options: tls.ConnectionOptions, secret = 'password: hunter2\n'): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = tls.connect({ ...to, ...options });
    // With the default rejectUnauthorized: true, a certificate that fails verification is an 'error'
    // before 'secureConnect', and nothing was sent.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      socket.destroy(); // after the handshake, a TLS error leaves the socket open
      resolve({ code: err.code ?? err.message });
    });
    socket.on('secureConnect', async () => {
      const outcome: Outcome = { authorized: socket.authorized, authorizationError: socket.authorizationError?.toString() };
      const reply = readUntil(socket, (text) => text.endsWith('\n'));
      socket.write(secret);
      outcome.reply = await reply.catch(() => undefined);
      socket.end();
      resolve(outcome);
    });
  });
}

// ── Records, ALPN ────────────────────────────────────────────────────────────

/** Counts what each client sends, like lesson 06's counter, over TLS. */
export function createTlsCounter(creds: KeyAndCert): tls.Server {
  // allowHalfOpen: the socket stays writable after the client's end(), for the reply.
  const server = tls.createServer({ ...creds, allowHalfOpen: true, handshakeTimeout: HANDSHAKE_TIMEOUT_MS }, (socket) => {
    socket.on('error', () => socket.destroy());
    countChunks(socket).then((tally) => socket.end(`${JSON.stringify(tally)}\n`), () => {});
  });
  return dropFailedHandshakes(server);
}

/** One write() of `bytes` bytes, then end(): resolves with how the server's 'data' events cut it. */
export async function oneWrite(socket: net.Socket, bytes: number): Promise<Tally> {
  const reply = readAll(socket);
  socket.end(Buffer.alloc(bytes, 'x'));
  return JSON.parse((await reply).toString()) as Tally;
}

export interface Negotiation {
  client?: string | false;
  server?: string | false;
  /** the codes of the errors each side got, when there was no common protocol */
  clientError?: string;
  serverError?: string;
}

/** Connect with `protocols` offered to a server that offers its own; what each side agreed on. */
export async function negotiate(server: tls.Server, to: Address, options: tls.ConnectionOptions): Promise<Negotiation> {
  const result: Negotiation = {};
  const serverDone = new Promise<void>((resolve) => {
    const onSecure = (socket: tls.TLSSocket) => ((result.server = socket.alpnProtocol ?? false), done());
    const onError = (err: NodeJS.ErrnoException) => ((result.serverError = err.code), done());
    const done = () => (server.off('secureConnection', onSecure), server.off('tlsClientError', onError), resolve());
    server.prependListener('secureConnection', onSecure);
    server.on('tlsClientError', onError);
  });
  const socket = tls.connect({ ...to, ...options });
  socket.on('error', (err: NodeJS.ErrnoException) => (result.clientError = err.code));
  socket.on('secureConnect', () => {
    result.client = socket.alpnProtocol ?? false;
    socket.end();
  });
  socket.resume();
  await Promise.all([closed(socket), serverDone]);
  return result;
}

// ── --serve ──────────────────────────────────────────────────────────────────

/** --serve: an https server with this run's certificate; the CA goes to a temporary file for curl. */
async function serveHttps(opts: LessonOptions, certs: { ca: KeyAndCert; server: KeyAndCert }): Promise<void> {
  const server = createHttpsServer(certs.server);
  const timeline = new Timeline({ live: true });
  server.on('connection', (socket: net.Socket) => timeline.server('connection', `TCP from port ${socket.remotePort}`));
  server.on('secureConnection', (socket: tls.TLSSocket) =>
    timeline.server('secureConnection', `${socket.getProtocol()}, ALPN ${socket.alpnProtocol || 'none'}, SNI ${socket.servername || 'none'}`),
  );
  server.on('request', (req) => timeline.server('request', `${req.method} ${req.url}`));
  server.on('tlsClientError', (err: NodeJS.ErrnoException) => timeline.server('tlsClientError', err.code ?? err.message));

  const dir = mkdtempSync(path.join(os.tmpdir(), 'workbook-09-'));
  const caFile = path.join(dir, 'ca.pem');
  writeFileSync(caFile, certs.ca.cert);
  // Removed when the server stops, and also if the process ends some other way (a crash).
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  try {
    await serve(server, opts, {
      commands: (host, port) => {
        const at = host.includes(':') ? `[${host}]` : host;
        return [
          `curl --cacert ${caFile} --resolve ${SERVER_NAME}:${port}:${at} https://${SERVER_NAME}:${port}/`,
          `openssl s_client -connect ${at}:${port} -servername ${SERVER_NAME} -verify_hostname ${SERVER_NAME} -CAfile ${caFile} -verify_return_error -crlf`,
          `socat - OPENSSL:${at}:${port},cafile=${caFile},commonname=${SERVER_NAME},crlf`,
        ];
      },
      note: (host, port) =>
        [
          `${caFile} holds this run's CA certificate (public; it is removed when the server stops).`,
          `Without that file curl refuses: it does not trust this CA. In openssl or socat, type: GET / HTTP/1.1, Enter, Host: ${SERVER_NAME}, Enter, Enter.`,
          `nc ${host} ${port} reaches the same port, but typed text is not TLS: the server logs a tlsClientError and closes.`,
        ].join('\n'),
    });
  } finally {
    removeDir();
    process.off('exit', removeDir);
  }
}

// ── The run ──────────────────────────────────────────────────────────────────

export async function main(opts: LessonOptions): Promise<void> {
  const delayMs = positiveInt('delay', opts.extra.delay, DEFAULT_DELAY_MS, MAX_DELAY_MS);
  const made = performance.now();
  const certs = await makeCertificates();
  const madeMs = performance.now() - made;
  if (opts.serve) return serveHttps(opts, certs);
  const trust = { ca: certs.ca.cert, servername: SERVER_NAME };

  // 1. One conversation through a relay that shows what crosses the wire.
  const timeline = new Timeline();
  const server = createTlsServer(certs.server);
  server.on('connection', (socket: net.Socket) => timeline.server('connection', `TCP from port ${socket.remotePort}`));
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    timeline.server('secureConnection', `${socket.getProtocol()}`);
    timeline.watch(socket, 'server', ['data', 'end']);
  });
  server.listen(opts.port, opts.host);
  const { address, port } = await listening(server);
  const real = { port, host: address };
  const wire: WireChunk[] = [];
  const watcher = createRelay(real, { onChunk: (c) => (wire.push(c), timeline.add(c.from, 'wire', `${describeRecords(c.records, true)} ${c.bytes} B`, true)) });
  const watched = await start(watcher, address);

  // tls.connect: TCP connect first, then the handshake. `ca` is the only authority this client
  // trusts; `servername` is the name the certificate must carry (and is sent to the server as SNI).
  const client = tls.connect({ ...watched, ...trust });
  timeline.watch(client, 'client', ['connect', 'data', 'end', 'close']);
  client.on('secureConnect', () => timeline.client('secureConnect', `authorized: ${client.authorized}`));
  await once(client, 'secureConnect');
  const reply = readUntil(client, (text) => text.endsWith('\n'));
  client.write('hello over TLS\n');
  await reply;
  client.end(); // close_notify, then FIN
  await once(client, 'close');
  console.log(`Certificates for this run made in ${madeMs.toFixed(0)} ms: ${certs.ca.name} signed one for ${SERVER_NAME}.`);
  console.log("A TLS client and server, through a relay that prints what crosses the wire ('wire' rows):\n");
  console.log(timeline.render());
  console.log('\nThe relay sees the ClientHello and the ServerHello in clear; everything after them is "encrypted" to it.');

  // 2. The handshake costs round trips: measured on loopback, then through a far-away path.
  const direct: Handshake[] = [];
  for (let i = 0; i < 10; i++) direct.push(await timeHandshake(real, trust));
  const echo = tls.connect({ ...real, ...trust });
  await once(echo, 'secureConnect');
  const rtts: number[] = [];
  for (let i = 0; i < 10; i++) rtts.push(await echoRoundTrip(echo));
  echo.end();
  await closed(echo);
  const far13: WireChunk[] = [];
  const far12: WireChunk[] = [];
  const slow13 = createRelay(real, { delayMs, onChunk: (c) => far13.push(c) });
  const slow12 = createRelay(real, { delayMs, onChunk: (c) => far12.push(c) });
  const [at13, at12] = await Promise.all([start(slow13, address), start(slow12, address)]);
  const [tls13, tls12] = await Promise.all([
    timeHandshake(at13, { ...trust, maxVersion: 'TLSv1.3' }, far13),
    timeHandshake(at12, { ...trust, maxVersion: 'TLSv1.2' }, far12),
  ]);
  await stop(slow13, slow12, watcher);
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  const handshakeMs = median(direct.map((h) => h.secureMs - h.connectMs));
  const busy = direct.reduce((sum, h) => sum + h.cpuMs, 0) / direct.reduce((sum, h) => sum + h.secureMs - h.connectMs, 0);
  console.log(`\nThe handshake, 10 times on loopback (medians): TCP 'connect' after ${ms(median(direct.map((h) => h.connectMs)))}, 'secureConnect' after ${ms(median(direct.map((h) => h.secureMs)))}.`);
  console.log(`Between the two: ${ms(handshakeMs)}, as long as ${(handshakeMs / median(rtts)).toFixed(0)} round trips on this connection (${ms(median(rtts))} each), where TLS 1.3 needs 1.`);
  console.log(`The rest is computing (key exchange, the server's signature, the client's checks): this process was busy on`);
  console.log(`the CPU ${(busy * 100).toFixed(0)}% of that time, client and server together. On loopback the cost is CPU, not distance.`);
  console.log(`\nThrough a relay that delays every chunk ${delayMs} ms each way (a round trip of ${2 * delayMs} ms), from 'connect' to 'secureConnect':`);
  for (const h of [tls13, tls12]) {
    const n = serverFlights(h.wire);
    console.log(`  ${h.protocol}: ${ms(h.secureMs - h.connectMs)}, ${n} round trip${n === 1 ? '' : 's'}: ${flights(h.wire).map((f) => `${f.from} ${describeRecords(f.records)}`).join(' → ')}`);
  }

  // 3. Verification: what a client refuses, and what `rejectUnauthorized: false` lets through.
  const seen: string[] = [];
  const spy = (text: string) => seen.push(text);
  const [chain, selfish, mitm] = [
    createTlsServer({ key: certs.server.key, cert: certs.server.cert + certs.ca.cert }),
    createTlsServer(await selfSigned(SERVER_NAME)),
    createManInTheMiddle(certs.impostor, { ...real, ca: certs.ca.cert }, spy),
  ];
  const [chainAt, selfAt, mitmAt] = await Promise.all([start(chain, address), start(selfish, address), start(mitm, address)]);
  // After the handshake every record from the server is 'encrypted' to the relay: it flips a bit in each.
  const afterHandshake = (c: WireChunk) => c.from === 'server' && c.records.length > 0 && c.records.every((r) => r === 'encrypted');
  const tamperer = createRelay(real, { alter: (data, c) => (afterHandshake(c) ? flipLastByte(data) : data) });
  const tamperAt = await start(tamperer, address);
  const rows: [string, string, Promise<Outcome>][] = [
    ["Node's default CAs", `certificate from ${certs.ca.name}`, tryConnect(real, { servername: SERVER_NAME })],
    ["Node's default CAs", 'the same, with the CA in the chain', tryConnect(chainAt, { servername: SERVER_NAME })],
    ["Node's default CAs", 'a self-signed certificate', tryConnect(selfAt, { servername: SERVER_NAME })],
    ['ca: the run CA', `certificate for ${SERVER_NAME}`, tryConnect(real, trust)],
    ['ca, servername: example.com', `certificate for ${SERVER_NAME}`, tryConnect(real, { ...trust, servername: 'example.com' })],
    ['ca, no servername', `certificate for ${SERVER_NAME} (at ${address})`, tryConnect(real, { ca: trust.ca })],
    ['ca: the run CA', "man in the middle, other CA's cert", tryConnect(mitmAt, trust)],
    ['rejectUnauthorized: false', "man in the middle, other CA's cert", tryConnect(mitmAt, { servername: SERVER_NAME, rejectUnauthorized: false })],
    ['ca: the run CA', 'a relay flips a bit after the handshake', tryConnect(tamperAt, trust)],
  ];
  console.log(`\n${'the client trusts'.padEnd(29)}${'the server presents'.padEnd(44)}result`);
  for (const [who, what, outcome] of rows) {
    const o = await outcome;
    const result = o.code ? `✗ ${o.code}` : `✓ connected, authorized: ${o.authorized}${o.authorizationError ? ` (${o.authorizationError})` : ''}`;
    console.log(`${who.padEnd(29)}${what.padEnd(44)}${result}`);
  }
  console.log(`The man in the middle read: ${JSON.stringify(seen.join(''))}, and passed it on: the client got its answer and noticed nothing.`);
  await stop(chain, selfish, mitm, tamperer);

  // 4. Records: what the reader gets as 'data' is one record at a time.
  const tlsCounter = createTlsCounter(certs.server);
  const tcpCounter = createCounter();
  const [tlsCounterAt, tcpCounterAt] = await Promise.all([start(tlsCounter, address), start(tcpCounter, address)]);
  const bytes = 256 * 1024;
  const overTls = tls.connect({ ...tlsCounterAt, ...trust });
  await once(overTls, 'secureConnect');
  const tlsTally = await oneWrite(overTls, bytes);
  const overTcp = net.connect(tcpCounterAt.port, tcpCounterAt.host);
  await once(overTcp, 'connect');
  const tcpTally = await oneWrite(overTcp, bytes);
  await stop(tlsCounter, tcpCounter);
  console.log(`\nOne write() of ${bytes / 1024} KiB arrived as ${tlsTally.events} 'data' events over TLS (largest ${tlsTally.largest} B: one record each),`);
  console.log(`and as ${tcpTally.events} over plain TCP (largest ${tcpTally.largest} B).`);

  // 5. ALPN: the client offers protocols, the server picks the first of its own list the client offers.
  const alpn = createTlsServer(certs.server, { ALPNProtocols: ['h2', 'http/1.1'] });
  const alpnAt = await start(alpn, address);
  console.log(`\nALPN, a server that offers ['h2', 'http/1.1']:`);
  for (const offer of [['http/1.1'], ['http/1.1', 'h2'], ['spdy/3.1'], undefined]) {
    const n = await negotiate(alpn, alpnAt, { ...trust, ALPNProtocols: offer });
    const result = n.clientError ? `✗ client: ${n.clientError}, server: ${n.serverError}` : `client: ${JSON.stringify(n.client)}, server: ${JSON.stringify(n.server)}`;
    console.log(`  the client offers ${(offer ? JSON.stringify(offer) : 'nothing').padEnd(22)} ${result}`);
  }
  await stop(alpn);

  // 6. https: http over this same TLS.
  const web = createHttpsServer(certs.server);
  const webAt = await start(web, address);
  // The same two options as tls.connect; agent: false, so no connection is kept for later.
  const res = await new Promise<IncomingMessage>((resolve, reject) =>
    https.get({ ...webAt, ...trust, path: '/hello', agent: false }, resolve).on('error', reject),
  );
  res.setEncoding('utf8');
  let body = '';
  for await (const text of res) body += text;
  await stop(web);
  console.log(`\nhttps.get() with the same ca and servername: ${res.statusCode} ${JSON.stringify(body)}`);
  server.close();
  await once(server, 'close');
}

function flipLastByte(data: Buffer): Buffer {
  const out = Buffer.from(data);
  out[out.length - 1] ^= 1;
  return out;
}

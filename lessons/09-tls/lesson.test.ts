import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test, { describe, type TestContext } from 'node:test';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../shared/cli.ts';
import { closed, readAll, readUntil } from '../shared/read.ts';
import { HOST, ONE_READ, listen, onCleanup, sendWithoutReading, until } from '../shared/testing.ts';
import { ROOT, has } from '../../test/processes.ts';
import { SERVER_NAME, issue, makeCertificates, selfSigned } from './certs.ts';
import {
  HANDSHAKE_TIMEOUT_MS, MAX_BODY, MAX_RECORD, createHttpsServer, createManInTheMiddle, createTlsCounter, createTlsServer, echoRoundTrip,
  main, median, negotiate, oneWrite, serverFlights, timeHandshake, tryConnect, type Handshake,
} from './lesson.ts';
import { RecordReader, createRelay, type WireChunk } from './relay.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const certs = await makeCertificates();
const trust = { ca: certs.ca.cert, servername: SERVER_NAME };
const major = Number(process.versions.node.split('.')[0]);
/** tls.connect to 127.0.0.1:port, destroyed when the test ends; resolves on 'secureConnect'. */
async function secure(t: TestContext, port: number, options: tls.ConnectionOptions = trust): Promise<tls.TLSSocket> {
  const socket = tls.connect({ port, host: HOST, ...options });
  onCleanup(t, () => socket.destroy());
  await once(socket, 'secureConnect');
  return socket;
}

/** The error of a connection that must fail (and never emit 'secureConnect'). */
async function refusal(t: TestContext, port: number, options: tls.ConnectionOptions): Promise<NodeJS.ErrnoException> {
  const socket = tls.connect({ port, host: HOST, ...options });
  onCleanup(t, () => socket.destroy());
  socket.on('secureConnect', () => assert.fail(`the client accepted the certificate (authorized: ${socket.authorized})`));
  const [err] = (await once(socket, 'error').catch((e: unknown) => [e])) as [NodeJS.ErrnoException];
  return err;
}

/** A TLS server's next 'tlsClientError'. */
function clientError(server: tls.Server): Promise<{ err: NodeJS.ErrnoException; socket: tls.TLSSocket }> {
  return new Promise((resolve) => server.once('tlsClientError', (err, socket) => resolve({ err, socket })));
}

/** Listen on port 0 and return the address as lesson.ts helpers take it. */
async function at(t: TestContext, server: net.Server): Promise<{ port: number; host: string }> {
  return { port: await listen(t, server), host: HOST };
}

/** Resolves once `socket` has closed: at once if it already has ('close' is not emitted twice). */
function gone(socket: net.Socket): Promise<unknown> {
  return socket.closed ? Promise.resolve() : closed(socket);
}

/** Let the event loop turn `n` times: whatever was due has run. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}


// Timings first, one at a time: tests that run alongside would share this event loop and blur them.
// A claim that turns false makes its test fail, never hang: every test has a deadline.
describe('lesson 09: what the handshake costs', { timeout: 15_000 }, () => {
  test('on loopback the handshake is several round trips long, and the process is on the CPU for most of it', async (t) => {
    const real = await at(t, createTlsServer(certs.server));
    await timeHandshake(real, trust); // warm-up: the first run compiles code
    const handshakes: Handshake[] = [];
    for (let i = 0; i < 10; i++) handshakes.push(await timeHandshake(real, trust));
    const client = await secure(t, real.port);
    await echoRoundTrip(client);
    const rtts: number[] = [];
    for (let i = 0; i < 10; i++) rtts.push(await echoRoundTrip(client));
    const wall = median(handshakes.map((h) => h.secureMs - h.connectMs));
    const cpu = median(handshakes.map((h) => h.cpuMs));
    // A busy machine takes the CPU away now and then, which stretches the clock time but not the
    // CPU time: the handshake least disturbed shows what the handshake itself is made of.
    const busiest = Math.max(...handshakes.map((h) => h.cpuMs / (h.secureMs - h.connectMs)));
    t.diagnostic(`handshake ${wall.toFixed(2)} ms, CPU ${cpu.toFixed(2)} ms (at most ${(busiest * 100).toFixed(0)}% of one), round trip ${median(rtts).toFixed(3)} ms`);
    // Measured: 6–20 round trips long, CPU 90–100% of it on an idle machine.
    assert.ok(wall > 2 * median(rtts), `handshake ${wall} ms, round trip ${median(rtts)} ms: expected the handshake to take over 2 round trips`);
    assert.ok(busiest > 0.5, `CPU at most ${(busiest * 100).toFixed(0)}% of a handshake's time: expected most of it`);
  });

  test('over a far path TLS 1.3 needs one round trip and TLS 1.2 two', async (t) => {
    const delayMs = 30;
    const real = await at(t, createTlsServer(certs.server));
    const wire13: WireChunk[] = [];
    const wire12: WireChunk[] = [];
    const far13 = await at(t, createRelay(real, { delayMs, onChunk: (c) => wire13.push(c) }));
    const far12 = await at(t, createRelay(real, { delayMs, onChunk: (c) => wire12.push(c) }));
    const measure = async () => {
      const [h13, h12] = await Promise.all([
        timeHandshake(far13, { ...trust, maxVersion: 'TLSv1.3' }, wire13),
        timeHandshake(far12, { ...trust, maxVersion: 'TLSv1.2' }, wire12),
      ]);
      assert.equal(h13.protocol, 'TLSv1.3');
      assert.equal(h12.protocol, 'TLSv1.2');
      assert.equal(serverFlights(h13.wire), 1, 'TLS 1.3: one flight from the server before secureConnect');
      assert.equal(serverFlights(h12.wire), 2, 'TLS 1.2: two');
      const ms13 = h13.secureMs - h13.connectMs;
      const ms12 = h12.secureMs - h12.connectMs;
      t.diagnostic(`TLS 1.3 ${ms13.toFixed(1)} ms, TLS 1.2 ${ms12.toFixed(1)} ms, ${delayMs} ms each way`);
      // Timers never fire early by more than the event loop's cached clock (about 1 ms).
      assert.ok(ms13 >= 2 * delayMs - 2, `TLS 1.3 took ${ms13} ms; one round trip is ${2 * delayMs} ms`);
      assert.ok(ms12 >= 4 * delayMs - 4, `TLS 1.2 took ${ms12} ms; two round trips are ${4 * delayMs} ms`);
      return { ms13, ms12 };
    };
    // A machine busy with other work can stretch one handshake by tens of milliseconds: when the
    // contrast is blurred, measure again (up to 3 times). TLS 1.2 never shorter fails all three.
    let last = { ms13: 0, ms12: 0 };
    for (let attempt = 0; attempt < 3; attempt++) {
      last = await measure();
      if (last.ms12 > last.ms13 + delayMs) break;
    }
    assert.ok(last.ms12 > last.ms13 + delayMs, `TLS 1.2 (${last.ms12} ms) should take about one round trip more than TLS 1.3 (${last.ms13} ms)`);
  });
});

describe('lesson 09', { concurrency: true, timeout: 15_000 }, () => {
  // ── certificates ────────────────────────────────────────────────────────────

  test("the run's CA signs a certificate for localhost: ECDSA P-256, valid for one day from now, no IP address", () => {
    const ca = new X509Certificate(certs.ca.cert);
    const server = new X509Certificate(certs.server.cert);
    assert.equal(ca.ca, true, 'the CA certificate may sign others');
    assert.equal(server.ca, false);
    assert.ok(server.checkIssued(ca) && server.verify(ca.publicKey), 'signed by the run CA');
    assert.equal(server.subjectAltName, `DNS:${SERVER_NAME}`, 'one DNS name, no IP address');
    assert.equal(server.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1', 'P-256');
    assert.ok(server.checkPrivateKey(createPrivateKey(certs.server.key)), 'the key belongs to the certificate');
    const now = Date.now();
    const hours = (Date.parse(server.validTo) - now) / 3_600_000;
    assert.ok(Date.parse(server.validFrom) <= now && hours > 23 && hours <= 24, `valid for ${hours.toFixed(1)} more hours`);
  });

  test('a second CA, trusted by nobody, signs an impostor certificate for the same name; each run makes new ones', async () => {
    const impostor = new X509Certificate(certs.impostor.cert);
    assert.equal(impostor.subjectAltName, `DNS:${SERVER_NAME}`);
    assert.ok(impostor.checkIssued(new X509Certificate(certs.otherCa.cert)));
    assert.ok(!impostor.checkIssued(new X509Certificate(certs.ca.cert)), 'not from the run CA');
    const again = await makeCertificates();
    assert.notEqual(new X509Certificate(again.ca.cert).fingerprint256, new X509Certificate(certs.ca.cert).fingerprint256);
    assert.notEqual(again.server.key, certs.server.key);
  });

  test('there is no private key in the repository (the lesson reads nothing from disk)', (t) => {
    const marker = ['PRIVATE', 'KEY'].join(' '); // written in two parts, so this file does not contain it
    for (const file of readdirSync(HERE, { recursive: true }) as string[]) {
      const full = path.join(HERE, file);
      if (/\.(ts|md)$/.test(file)) assert.ok(!readFileSync(full, 'utf8').includes(marker), `${file} holds a private key`);
    }
    if (!has('git') || !existsSync(path.join(ROOT, '.git'))) return t.skip('git or the repository is not here: only this folder was searched');
    const found = spawnSync('git', ['grep', '-l', marker], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(found.stdout, '', `git grep finds a private key in: ${found.stdout}`);
  });

  // ── the handshake as a relay sees it ──────────────────────────────────────────

  test("'connect' first; one round trip later 'secureConnect'; the server's 'secureConnection' after it (TLS 1.3)", async (t) => {
    const server = createTlsServer(certs.server);
    const real = await at(t, server);
    const order: string[] = [];
    const wire: WireChunk[] = [];
    const relay = createRelay(real, { onChunk: (c) => (wire.push(c), order.push(`${c.from} chunk`)) });
    const port = await listen(t, relay);
    server.on('secureConnection', () => order.push('server secureConnection'));
    const client = tls.connect({ port, host: HOST, ...trust });
    onCleanup(t, () => client.destroy());
    client.on('connect', () => order.push('client connect'));
    await once(client, 'secureConnect');
    order.push('client secureConnect');
    const before = wire.length;
    assert.equal(serverFlights(wire.slice(0, before)), 1, `one flight from the server before 'secureConnect': ${order.join(', ')}`);
    assert.equal(client.getProtocol(), 'TLSv1.3');
    await until(() => order.includes('server secureConnection'), t.signal);
    assert.ok(order.indexOf('client connect') < order.indexOf('client chunk'), order.join(', '));
    assert.ok(order.indexOf('client secureConnect') < order.indexOf('server secureConnection'), order.join(', '));
  });

  test('the relay reads the ClientHello and the ServerHello; every record after them is encrypted, and no plain text crosses, also with rejectUnauthorized: false', async (t) => {
    const real = await at(t, createTlsServer(certs.server));
    const chunks: WireChunk[] = [];
    const bytes: Buffer[] = [];
    const relay = createRelay(real, { onChunk: (c) => chunks.push(c), alter: (data) => (bytes.push(data), data) });
    const finSeen = new Promise<void>((resolve) => relay.on('connection', (s: net.Socket) => s.on('end', resolve)));
    const relayPort = await listen(t, relay);
    const client = await secure(t, relayPort);
    const reply = readUntil(client, (text) => text.endsWith('\n'));
    client.write('secret words\n');
    assert.equal(await reply, 'SECRET WORDS\n');
    const before = chunks.length;
    client.end();
    await finSeen;
    const records = chunks.flatMap((c) => c.records.map((r) => `${c.from} ${r}`));
    assert.equal(records[0], 'client ClientHello');
    assert.ok(records.indexOf('server ServerHello') > 0, records.join(', '));
    const later = records.filter((r) => !/ (ClientHello|ServerHello)$/.test(r));
    assert.ok(later.every((r) => / (ccs|encrypted)$/.test(r)), `records after the hellos: ${later.join(', ')}`);
    const all = Buffer.concat(bytes).toString('latin1');
    assert.ok(!all.includes('secret words') && !all.includes('SECRET WORDS'), 'the relay saw the plain text');
    assert.ok(bytes[0].toString('latin1').includes(SERVER_NAME), 'the ClientHello carries the server name (SNI) in clear');
    // end(): an encrypted record (close_notify) from the client, then its FIN.
    assert.deepEqual(chunks.slice(before).filter((c) => c.from === 'client').flatMap((c) => c.records), ['encrypted']);
    // rejectUnauthorized: false drops the check of the certificate, not the encryption.
    const careless = await secure(t, relayPort, { servername: SERVER_NAME, rejectUnauthorized: false });
    const answer = readUntil(careless, (text) => text.endsWith('\n'));
    careless.write('more secret words\n');
    assert.equal(await answer, 'MORE SECRET WORDS\n');
    assert.ok(!Buffer.concat(bytes).toString('latin1').includes('secret words'), 'the relay saw the plain text');
  });

  test('TLS 1.3 sends two session tickets after the handshake; the next handshake with one is a resumption', async (t) => {
    const port = await listen(t, createTlsServer(certs.server));
    const first = tls.connect({ port, host: HOST, ...trust });
    onCleanup(t, () => first.destroy());
    const tickets: Buffer[] = [];
    first.on('session', (ticket: Buffer) => tickets.push(ticket));
    await once(first, 'secureConnect');
    first.end();
    await gone(first);
    assert.equal(tickets.length, 2, 'tickets received');
    const second = await secure(t, port, { ...trust, session: tickets[0] });
    assert.equal(second.isSessionReused(), true);
  });

  // ── what the handshake costs ───────────────────────────────────────────────────

  test('OpenSSL 3.5 and later add a post-quantum key share: a ClientHello over 1 KiB (367 B without it)', async (t) => {
    const [maj, min] = process.versions.openssl.split('.').map(Number);
    const pq = maj > 3 || (maj === 3 && min >= 5);
    const real = await at(t, createTlsServer(certs.server));
    const wire: WireChunk[] = [];
    const relayed = await at(t, createRelay(real, { onChunk: (c) => wire.push(c) }));
    const client = await secure(t, relayed.port);
    const hello = wire.find((c) => c.records[0] === 'ClientHello')!;
    t.diagnostic(`OpenSSL ${process.versions.openssl}: ClientHello ${hello.bytes} B, key exchange ${JSON.stringify(client.getEphemeralKeyInfo())}`);
    if (pq) {
      assert.ok(hello.bytes > 1024, `ClientHello ${hello.bytes} B`);
      const info = client.getEphemeralKeyInfo() as { name?: string };
      if (info.name !== undefined) assert.equal(info.name, 'X25519MLKEM768');
    } else {
      assert.ok(hello.bytes < 1024, `ClientHello ${hello.bytes} B`);
    }
  });

  // ── verification ────────────────────────────────────────────────────────────

  test("a client that trusts only Node's built-in CAs refuses the run's certificate: UNABLE_TO_VERIFY_LEAF_SIGNATURE", async (t) => {
    const real = await at(t, createTlsServer(certs.server));
    assert.deepEqual(await tryConnect(real, { servername: SERVER_NAME }), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  test('… a chain that ends in the CA it does not trust: SELF_SIGNED_CERT_IN_CHAIN', async (t) => {
    const chain = await at(t, createTlsServer({ key: certs.server.key, cert: certs.server.cert + certs.ca.cert }));
    assert.deepEqual(await tryConnect(chain, { servername: SERVER_NAME }), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
  });

  test('… a self-signed certificate: DEPTH_ZERO_SELF_SIGNED_CERT', async (t) => {
    const own = await at(t, createTlsServer(await selfSigned(SERVER_NAME)));
    assert.deepEqual(await tryConnect(own, { servername: SERVER_NAME }), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  test("trusting the run's CA (ca) and naming the server (servername) fixes it: authorized", async (t) => {
    const real = await at(t, createTlsServer(certs.server));
    assert.deepEqual(await tryConnect(real, trust, 'hello\n'), { authorized: true, authorizationError: undefined, reply: 'HELLO\n' });
  });

  test('a certificate without the name the client asked for is refused: ERR_TLS_CERT_ALTNAME_INVALID', async (t) => {
    const { port } = await at(t, createTlsServer(certs.server));
    const err = await refusal(t, port, { ...trust, servername: 'example.com' });
    assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.match(err.message, /example\.com/);
  });

  test('without servername the client checks the address it connected to: ERR_TLS_CERT_ALTNAME_INVALID for 127.0.0.1', async (t) => {
    const { port } = await at(t, createTlsServer(certs.server));
    const err = await refusal(t, port, { ca: certs.ca.cert });
    assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.match(err.message, /IP: 127\.0\.0\.1/);
  });

  test('a certificate that is no longer valid is refused: CERT_HAS_EXPIRED', async (t) => {
    const day = 24 * 3_600_000;
    const expired = await issue(certs.ca, [SERVER_NAME], { notBefore: new Date(Date.now() - 2 * day), notAfter: new Date(Date.now() - day) });
    const { port } = await at(t, createTlsServer(expired));
    assert.equal((await refusal(t, port, trust)).code, 'CERT_HAS_EXPIRED');
  });

  test('the server learns the name the client asked for (SNI), so one server can hold a certificate for each of several names', async (t) => {
    const server = createTlsServer(certs.server);
    server.addContext('shop.workbook.test', await issue(certs.ca, ['shop.workbook.test']));
    const port = await listen(t, server);
    const names: (string | false | null)[] = [];
    server.on('secureConnection', (socket: tls.TLSSocket) => names.push(socket.servername));
    const shop = await secure(t, port, { ...trust, servername: 'shop.workbook.test' });
    const home = await secure(t, port, trust);
    assert.equal(shop.getPeerCertificate().subject.CN, 'shop.workbook.test');
    assert.equal(home.getPeerCertificate().subject.CN, SERVER_NAME);
    await until(() => names.length === 2, t.signal);
    assert.deepEqual(names.sort(), [SERVER_NAME, 'shop.workbook.test']);
  });

  test("a client that trusts the run's CA refuses the man in the middle before sending a byte, even one written early", async (t) => {
    const real = await at(t, createTlsServer(certs.server));
    const seen: string[] = [];
    const mitm = createManInTheMiddle(certs.impostor, { ...real, ca: certs.ca.cert }, (text) => seen.push(text));
    const { port } = await at(t, mitm);
    const socket = tls.connect({ port, host: HOST, ...trust });
    onCleanup(t, () => socket.destroy());
    socket.write('password: hunter2\n'); // before the handshake: Node holds it until the server is verified
    const [err] = (await once(socket, 'error').catch((e: unknown) => [e])) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    await gone(socket);
    await until(() => mitm.listenerCount('connection') > 0 && (mitm as unknown as { _connections: number })._connections === 0, t.signal);
    assert.deepEqual(seen, [], 'the man in the middle read nothing');
  });

  test('with rejectUnauthorized: false the man in the middle reads the password and the client gets the real answer; only authorized tells', async (t) => {
    const real = await at(t, createTlsServer(certs.server));
    const seen: string[] = [];
    const mitm = await at(t, createManInTheMiddle(certs.impostor, { ...real, ca: certs.ca.cert }, (text) => seen.push(text)));
    const outcome = await tryConnect(mitm, { servername: SERVER_NAME, rejectUnauthorized: false });
    assert.deepEqual(outcome, { authorized: false, authorizationError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', reply: 'PASSWORD: HUNTER2\n' });
    assert.equal(seen.join(''), 'password: hunter2\n');
  });

  test('NODE_TLS_REJECT_UNAUTHORIZED=0 lets every connection of the process through, with a warning', async (t) => {
    const { port } = await at(t, createTlsServer(certs.impostor));
    const child = await node(t, `const s = require('tls').connect({ port: ${port}, host: '${HOST}', servername: '${SERVER_NAME}' });
s.on('secureConnect', () => { console.log('connected, authorized: ' + s.authorized); s.destroy(); });
s.on('error', (e) => console.log('error ' + e.code));`, { NODE_TLS_REJECT_UNAUTHORIZED: '0' });
    assert.equal(child.stdout.trim(), 'connected, authorized: false');
    assert.match(child.stderr, /NODE_TLS_REJECT_UNAUTHORIZED/);
  });

  test("ca replaces Node's built-in list: a CA added to the built-in list (NODE_EXTRA_CA_CERTS) is no longer trusted", async (t) => {
    const { port } = await at(t, createTlsServer(certs.server));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'workbook-09-test-'));
    onCleanup(t, () => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'ca.pem'), certs.ca.cert);
    writeFileSync(path.join(dir, 'other.pem'), certs.otherCa.cert);
    const script = (ca: string) => `const s = require('tls').connect({ port: ${port}, host: '${HOST}', servername: '${SERVER_NAME}'${ca} });
s.on('secureConnect', () => { console.log('authorized'); s.destroy(); });
s.on('error', (e) => console.log(e.code));`;
    const extra = { NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem') };
    const [builtIn, replaced] = await Promise.all([
      node(t, script(''), extra),
      node(t, script(`, ca: require('fs').readFileSync(${JSON.stringify(path.join(dir, 'other.pem'))})`), extra),
    ]);
    assert.equal(builtIn.stdout.trim(), 'authorized', 'the built-in list plus NODE_EXTRA_CA_CERTS trusts the run CA');
    assert.equal(replaced.stdout.trim(), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'with ca, only that CA is trusted');
  });

  test('a ca list trusts every CA in it: the built-in list and yours would let any public CA vouch for your server', async (t) => {
    const real = await at(t, createTlsServer(certs.server));
    const impostor = await at(t, createTlsServer(certs.impostor));
    const both = { servername: SERVER_NAME, ca: [certs.otherCa.cert, certs.ca.cert] };
    assert.equal((await tryConnect(real, both)).authorized, true);
    assert.equal((await tryConnect(impostor, both)).authorized, true);
    assert.ok(tls.rootCertificates.length > 100, `${tls.rootCertificates.length} built-in CAs`);
  });

  test('since Node 24 the message of an unknown issuer suggests --use-system-ca; the code is the same', { skip: major < 24 && `Node ${major}: the hint came with Node 24` }, async (t) => {
    const { port } = await at(t, createTlsServer(certs.server));
    const err = await refusal(t, port, { servername: SERVER_NAME });
    assert.equal(err.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    assert.match(err.message, /--use-system-ca/);
  });

  test('a relay that flips a bit after the handshake makes the client fail (ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC), never read changed bytes', async (t) => {
    const real = await at(t, createTlsServer(certs.server));
    const afterHandshake = (c: WireChunk) => c.from === 'server' && c.records.length > 0 && c.records.every((r) => r === 'encrypted');
    const flip = (data: Buffer) => Buffer.concat([data.subarray(0, -1), Buffer.from([data[data.length - 1] ^ 1])]);
    const tamperer = await at(t, createRelay(real, { alter: (data, c) => (afterHandshake(c) ? flip(data) : data) }));
    const socket = tls.connect({ ...tamperer, ...trust });
    onCleanup(t, () => socket.destroy());
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('secureConnect', () => socket.write('hello\n'));
    const [err] = (await once(socket, 'error').catch((e: unknown) => [e])) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC');
    assert.deepEqual(received, [], 'no data was delivered');
  });

  test("after the handshake a TLS error does not close the socket: no 'close' on either end until destroy()", async (t) => {
    const server = tls.createServer(certs.server);
    const serverSide = new Promise<tls.TLSSocket>((resolve) => server.once('secureConnection', resolve));
    const real = await at(t, server);
    let armed = false;
    const flip = (data: Buffer) => Buffer.concat([data.subarray(0, -1), Buffer.from([data[data.length - 1] ^ 1])]);
    const tamperer = await at(t, createRelay(real, { alter: (data, c) => (armed && c.from === 'server' ? ((armed = false), flip(data)) : data) }));
    const client = await secure(t, tamperer.port);
    const peer = await serverSide;
    const peerError = new Promise<string | undefined>((resolve) => peer.on('error', (err: NodeJS.ErrnoException) => resolve(err.code)));
    const clientError = new Promise<string | undefined>((resolve) => client.on('error', (err: NodeJS.ErrnoException) => resolve(err.code)));
    armed = true;
    peer.write('changed on the way');
    assert.equal(await clientError, 'ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC');
    assert.match((await peerError) ?? '', /ALERT_BAD_RECORD_MAC/, 'the server got the alert the client sent');
    await turns(20);
    assert.deepEqual([client.destroyed, client.closed, peer.destroyed, peer.closed], [false, false, false, false], 'both ends still open');
    client.destroy();
    peer.destroy();
    await Promise.all([closed(client), closed(peer)]);
  });

  test("the lesson's servers destroy a socket whose record failed its check after the handshake", async (t) => {
    const server = createTlsServer(certs.server);
    const serverSide = new Promise<tls.TLSSocket>((resolve) => server.once('secureConnection', resolve));
    const real = await at(t, server);
    let armed = false;
    const flip = (data: Buffer) => Buffer.concat([data.subarray(0, -1), Buffer.from([data[data.length - 1] ^ 1])]);
    const tamperer = await at(t, createRelay(real, { alter: (data, c) => (armed && c.from === 'client' ? ((armed = false), flip(data)) : data) }));
    const client = await secure(t, tamperer.port);
    client.on('error', () => {});
    const peer = await serverSide;
    const peerError = new Promise<string | undefined>((resolve) => peer.on('error', (err: NodeJS.ErrnoException) => resolve(err.code)));
    armed = true;
    client.write('changed on the way\n');
    assert.equal(await peerError, 'ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC');
    await turns(5);
    assert.equal(peer.destroyed, true, "the server's socket was not destroyed after its error");
  });

  // ── servers that survive their clients ────────────────────────────────────────────

  test('plain text sent to a TLS server is a tlsClientError (ERR_SSL_WRONG_VERSION_NUMBER), and the server keeps answering', async (t) => {
    const server = createTlsServer(certs.server);
    const port = await listen(t, server);
    const failed = clientError(server);
    const plain = net.connect(port, HOST);
    onCleanup(t, () => plain.destroy());
    plain.on('error', () => {});
    plain.resume();
    plain.end('hello from nc\n');
    assert.equal((await failed).err.code, 'ERR_SSL_WRONG_VERSION_NUMBER');
    await gone(plain);
    assert.equal((await tryConnect({ port, host: HOST }, trust, 'still here?\n')).reply, 'STILL HERE?\n');
  });

  test('a client that resets in the middle of the handshake is a tlsClientError, not a crash', async (t) => {
    const server = createTlsServer(certs.server);
    const port = await listen(t, server);
    const failed = clientError(server);
    const rude = net.connect(port, HOST);
    onCleanup(t, () => rude.destroy());
    rude.on('error', () => {});
    // The first bytes of a ClientHello record, then a reset.
    rude.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), () => rude.resetAndDestroy());
    assert.equal((await failed).err.code, 'ECONNRESET');
    assert.equal((await tryConnect({ port, host: HOST }, trust, 'ok\n')).reply, 'OK\n');
  });

  test("a client that refuses the certificate is a tlsClientError at the server, never a 'secureConnection'", async (t) => {
    const server = createTlsServer(certs.impostor);
    const port = await listen(t, server);
    server.on('secureConnection', () => assert.fail('the server finished a handshake the client refused'));
    const failed = clientError(server);
    assert.equal((await refusal(t, port, trust)).code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    assert.ok((await failed).err, 'tlsClientError');
  });

  test("after handshakeTimeout Node only reports ERR_TLS_HANDSHAKE_TIMEOUT: the socket stays open unless the 'tlsClientError' listener destroys it", async (t) => {
    assert.equal(HANDSHAKE_TIMEOUT_MS, 10_000);
    // Node's default, 120 s, is kept in an internal field of the server: read it where it is.
    const field = Object.getOwnPropertySymbols(tls.createServer()).find((sym) => sym.description === 'handshake-timeout');
    if (field) assert.equal((tls.createServer() as unknown as Record<symbol, number>)[field], 120_000);
    else t.diagnostic("this Node keeps its default handshakeTimeout elsewhere: 120 s not checked");
    const bare = tls.createServer({ ...certs.server, handshakeTimeout: 50 });
    const lesson = createTlsServer(certs.server, { handshakeTimeout: 50 });
    const results = await Promise.all(
      [bare, lesson].map(async (server) => {
        const port = await listen(t, server);
        const failed = new Promise<{ code?: string; destroyed: boolean }>((resolve) =>
          // Registered after the lesson's own listener, so it sees what that listener did.
          server.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => resolve({ code: err.code, destroyed: socket.destroyed })),
        );
        const silent = net.connect(port, HOST); // connects and never says a word
        onCleanup(t, () => silent.destroy());
        silent.on('error', () => {});
        const result = await failed;
        return { ...result, clientClosed: result.destroyed ? await gone(silent).then(() => true) : silent.closed };
      }),
    );
    assert.deepEqual(results[0], { code: 'ERR_TLS_HANDSHAKE_TIMEOUT', destroyed: false, clientClosed: false }, 'plain tls.createServer');
    assert.deepEqual(results[1], { code: 'ERR_TLS_HANDSHAKE_TIMEOUT', destroyed: true, clientClosed: true }, "the lesson's server");
  });

  test('the echo stops reading while its client does not read: at most writableHighWaterMark + one record to send and readableHighWaterMark + one read (64 KiB) received, then every byte arrives', async (t) => {
    const server = createTlsServer(certs.server);
    const port = await listen(t, server);
    const accepted = new Promise<tls.TLSSocket>((resolve) => server.once('secureConnection', resolve));
    const client = await secure(t, port);
    const socket = await accepted;
    const total = 16 * 1024 * 1024; // measured on Linux: the client stalls after about 8.5 MB (the kernel's buffers)
    const sender = sendWithoutReading(client, Buffer.alloc(64 * 1024, 'a'), total);
    // Stalled: the server is paused with a full read buffer, the client cannot write more, and
    // neither moves for 50 checks in a row (a pause that 'drain' ends at once is not a stall).
    const stuck = () =>
      socket.isPaused() && socket.readableLength >= socket.readableHighWaterMark && client.writableLength >= client.writableHighWaterMark;
    let still = 0;
    let last = -1;
    const stalled = () => {
      still = stuck() && sender.sent() === last ? still + 1 : 0;
      last = sender.sent();
      return still >= 50;
    };
    let sentAll = false;
    void sender.done.then(() => (sentAll = true));
    await until(() => stalled() || sentAll, t.signal);
    const first = sentAll ? 'sent all' : 'stalled';
    assert.equal(first, 'stalled', `the client sent all ${total} bytes and the server never stopped reading`);
    assert.ok(socket.writableLength <= socket.writableHighWaterMark + MAX_RECORD, `writableLength ${socket.writableLength}, expected at most ${socket.writableHighWaterMark} + ${MAX_RECORD}`);
    // A paused TLS socket still decrypts every record of the read it has made: up to 64 KiB.
    assert.ok(socket.readableLength <= socket.readableHighWaterMark + ONE_READ, `readableLength ${socket.readableLength}, expected at most ${socket.readableHighWaterMark} + ${ONE_READ}`);
    assert.ok(sender.sent() < total, 'the client is stalled too');
    let echoed = 0;
    let capitals = true;
    client.on('data', (chunk: Buffer) => {
      echoed += chunk.length;
      capitals &&= chunk.every((byte) => byte === 0x41);
    });
    await sender.done;
    client.end();
    await once(client, 'end');
    assert.equal(echoed, total);
    assert.ok(capitals, 'every byte came back in capitals');
  });

  // ── records ──────────────────────────────────────────────────────────────────

  test("one write() of 256 KiB arrives over TLS as 'data' events of at most 16384 B; over plain TCP in chunks of up to 64 KiB", async (t) => {
    const bytes = 256 * 1024;
    const tlsTally = await oneWrite(await secure(t, await listen(t, createTlsCounter(certs.server))), bytes);
    assert.equal(tlsTally.bytes, bytes);
    assert.ok(tlsTally.largest <= MAX_RECORD, `largest 'data' chunk ${tlsTally.largest} B`);
    assert.ok(tlsTally.events >= bytes / MAX_RECORD, `${tlsTally.events} events for ${bytes} B`);
    // Plain TCP, read late so that much has arrived: one read takes up to 64 KiB.
    let resume = () => {};
    const largest = new Promise<number>((resolve) => {
      const late = net.createServer({ pauseOnConnect: true }, (socket) => {
        socket.on('error', () => {});
        let max = 0;
        socket.on('data', (chunk: Buffer) => (max = Math.max(max, chunk.length)));
        socket.on('end', () => resolve(max));
        resume = () => socket.resume();
      });
      void listen(t, late).then((port) => {
        const plain = net.connect(port, HOST);
        onCleanup(t, () => plain.destroy());
        plain.on('error', () => {});
        plain.end(Buffer.alloc(bytes, 'x'), () => setImmediate(() => resume()));
      });
    });
    const tcpLargest = await largest;
    assert.ok(tcpLargest > MAX_RECORD && tcpLargest <= 64 * 1024, `the plain TCP reader's largest 'data' chunk: ${tcpLargest} B`);
  });

  test("records survive any TCP chunking: three records that arrive in one TCP read are still three 'data' events (plain TCP: one)", async (t) => {
    const pieces = ['one,', 'two,', 'three'];
    const received = (server: net.Server) =>
      new Promise<string[]>((resolve) => {
        server.on(server instanceof tls.Server ? 'secureConnection' : 'connection', (socket: net.Socket) => {
          socket.on('error', () => {});
          const chunks: string[] = [];
          socket.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
          socket.on('end', () => resolve(chunks));
        });
      });
    const tlsServer = dropAll(tls.createServer(certs.server));
    const tcpServer = net.createServer();
    const [tlsChunks, tcpChunks] = [received(tlsServer), received(tcpServer)];
    const send = async (socket: net.Socket) => {
      for (const piece of pieces) await new Promise((resolve) => socket.write(piece, resolve)); // one record each
      socket.end();
    };
    // Relays that hold the client's data and pass it on in one write at its FIN (the handshake goes through).
    const overTls = await secure(t, await listen(t, holdingRelay(await at(t, tlsServer))));
    const overTcp = net.connect(await listen(t, holdingRelay(await at(t, tcpServer))), HOST);
    onCleanup(t, () => overTcp.destroy());
    await once(overTcp, 'connect');
    await Promise.all([send(overTls), send(overTcp)]);
    assert.equal((await tlsChunks).join(''), pieces.join(''));
    assert.ok((await tlsChunks).every((chunk) => pieces.includes(chunk)), `TLS chunks ${JSON.stringify(await tlsChunks)}: one record each`);
    assert.deepEqual(await tcpChunks, [pieces.join('')], 'plain TCP: one chunk');
  });

  // ── ALPN ───────────────────────────────────────────────────────────────────

  test('ALPN: the server picks the first protocol of its own list that the client offers, and both sides see it', async (t) => {
    const server = createTlsServer(certs.server, { ALPNProtocols: ['h2', 'http/1.1'] });
    const to = await at(t, server);
    assert.deepEqual(await negotiate(server, to, { ...trust, ALPNProtocols: ['http/1.1'] }), { client: 'http/1.1', server: 'http/1.1' });
    assert.deepEqual(await negotiate(server, to, { ...trust, ALPNProtocols: ['http/1.1', 'h2'] }), { client: 'h2', server: 'h2' });
  });

  test('ALPN: a client that offers nothing gets false on both sides', async (t) => {
    const server = createTlsServer(certs.server, { ALPNProtocols: ['h2', 'http/1.1'] });
    assert.deepEqual(await negotiate(server, await at(t, server), trust), { client: false, server: false });
  });

  test('ALPN: no protocol in common fails the handshake on both sides', async (t) => {
    const server = createTlsServer(certs.server, { ALPNProtocols: ['h2', 'http/1.1'] });
    assert.deepEqual(await negotiate(server, await at(t, server), { ...trust, ALPNProtocols: ['spdy/3.1'] }), {
      clientError: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL',
      serverError: 'ERR_SSL_NO_APPLICATION_PROTOCOL',
    });
  });

  // ── https ────────────────────────────────────────────────────────────────────

  test('https.createServer is a tls.Server (so a net.Server), and its connections are TLSSockets (so net.Sockets) that offer http/1.1', async (t) => {
    const server = createHttpsServer(certs.server);
    assert.ok(server instanceof tls.Server && server instanceof net.Server);
    const client = await secure(t, await listen(t, server), { ...trust, ALPNProtocols: ['h2', 'http/1.1'] });
    assert.ok(client instanceof tls.TLSSocket && client instanceof net.Socket);
    assert.equal(client.alpnProtocol, 'http/1.1');
  });

  test('https.get with the same ca and servername gets 200 (it offers no ALPN); without ca it fails', async (t) => {
    const to = await at(t, createHttpsServer(certs.server));
    const get = (options: https.RequestOptions) =>
      new Promise<{ status?: number; body?: string; code?: string }>((resolve) => {
        https
          .get({ ...to, path: '/x', agent: false, ...options }, (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (text: string) => (body += text)).on('end', () => resolve({ status: res.statusCode, body }));
          })
          .on('error', (err: NodeJS.ErrnoException) => resolve({ code: err.code }));
      });
    assert.deepEqual(await get(trust), { status: 200, body: 'hello over HTTPS: TLSv1.3, ALPN none, you asked for GET /x\n' });
    assert.deepEqual(await get({ servername: SERVER_NAME }), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  test('the https server reads a request body of up to 4 MiB and says how many bytes it got; a bigger one gets 413 and the connection closes, unread', async (t) => {
    assert.equal(MAX_BODY, 4 * 1024 * 1024);
    const port = await listen(t, createHttpsServer(certs.server));
    const posted = await new Promise<string>((resolve, reject) => {
      const req = https.request({ host: HOST, port, ...trust, method: 'POST', path: '/up', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (text: string) => (body += text)).on('end', () => resolve(`${res.statusCode} ${body}`));
      });
      req.on('error', reject);
      req.end(Buffer.alloc(MAX_BODY, 'x')); // the most it reads
    });
    assert.match(posted, new RegExp(`^200 hello over HTTPS: .*you asked for POST /up and sent ${MAX_BODY} B\n$`));
    const client = await secure(t, port);
    client.on('error', () => {}); // the server closes while we still send: EPIPE or a reset
    let reply = '';
    client.setEncoding('utf8').on('data', (text: string) => (reply += text));
    const total = 64 * 1024 * 1024;
    client.write(`POST /big HTTP/1.1\r\nHost: ${SERVER_NAME}\r\nContent-Length: ${total}\r\n\r\n`);
    const clientClosed = closed(client);
    const sender = sendWithoutReading(client, Buffer.alloc(64 * 1024, 'x'), total);
    await clientClosed;
    assert.match(reply, /^HTTP\/1\.1 413 /, reply);
    assert.match(reply, /request body over 4194304 B, not read/);
    assert.ok(sender.sent() < total, `the client could send all ${total} B`);
  });

  // ── the command ──────────────────────────────────────────────────────────────

  test('--delay must be a whole number from 1 to 500', async () => {
    for (const delay of ['0', '501', 'soon']) {
      await assert.rejects(main({ serve: false, port: 0, host: HOST, extra: { delay } }), UsageError, `--delay ${delay}`);
    }
  });

  test('--serve prints curl, openssl and socat commands with the real port and CA file; each gets the page, curl without the CA is refused, plain text (nc) is a tlsClientError; Ctrl-C removes the file', async (t) => {
    const lines: string[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => void lines.push(args.join(' '));
    onCleanup(t, () => (console.log = log));
    const serving = main({ serve: true, port: 0, host: HOST, extra: {} });
    let stopped = false;
    const stop = async () => {
      if (!stopped) process.emit('SIGINT'); // what Ctrl-C does, without signalling the test process itself
      stopped = true;
      await serving;
    };
    onCleanup(t, stop); // also when an assertion below fails
    await until(() => lines.some((l) => l.startsWith('Ctrl-C stops the server')), t.signal);
    const text = lines.join('\n');
    const port = Number(/listening on 127\.0\.0\.1:(\d+)\./.exec(text)?.[1]);
    const caFile = /--cacert (\S+)/.exec(text)?.[1] ?? '';
    assert.ok(port > 0 && existsSync(caFile), text);
    assert.equal(readFileSync(caFile, 'utf8'), readFileSync(caFile, 'utf8').trim() + '\n');
    const curl = `curl --cacert ${caFile} --resolve ${SERVER_NAME}:${port}:${HOST} https://${SERVER_NAME}:${port}/`;
    assert.ok(lines.includes(`  ${curl}`), text);
    assert.ok(lines.includes(`  openssl s_client -connect ${HOST}:${port} -servername ${SERVER_NAME} -verify_hostname ${SERVER_NAME} -CAfile ${caFile} -verify_return_error -crlf`), text);
    if (has('curl')) {
      const good = await run('curl', [...curl.split(' ').slice(1), '--max-time', '10']);
      assert.equal(good.code, 0, good.stderr);
      assert.match(good.stdout, /^hello over HTTPS: TLSv1\.3, ALPN http\/1\.1, you asked for GET \/\n$/);
      const bad = await run('curl', ['-sS', '--max-time', '10', '--resolve', `${SERVER_NAME}:${port}:${HOST}`, `https://${SERVER_NAME}:${port}/`]);
      assert.equal(bad.code, 60, bad.stderr);
      assert.match(bad.stderr, /unable to get local issuer certificate/);
      await until(() => lines.some((l) => /tlsClientError ERR_SSL_TLSV1_ALERT_UNKNOWN_CA/.test(l)), t.signal);
    } else {
      t.diagnostic('curl is not installed: its part was skipped');
    }
    const openssl = lines.find((l) => l.startsWith('  openssl s_client'))!.trim().split(' ');
    if (has('openssl')) {
      // -quiet: no session details, and keep reading after our input ends, until the server closes.
      const request = `GET / HTTP/1.1\nHost: ${SERVER_NAME}\nConnection: close\n\n`; // -crlf turns \n into \r\n
      const got = await run(openssl[0], [...openssl.slice(1), '-quiet'], {}, request);
      assert.equal(got.code, 0, got.stderr);
      assert.match(got.stdout, /hello over HTTPS: TLSv1\.3, ALPN none, you asked for GET \//);
    } else {
      t.diagnostic('openssl is not installed: its part was skipped');
    }
    const socat = `socat - OPENSSL:${HOST}:${port},cafile=${caFile},commonname=${SERVER_NAME},crlf`;
    assert.ok(lines.includes(`  ${socat}`), text);
    if (has('socat')) {
      const got = await run('socat', socat.split(' ').slice(1), {}, `GET /socat HTTP/1.1\nHost: ${SERVER_NAME}\nConnection: close\n\n`);
      assert.equal(got.code, 0, got.stderr);
      assert.match(got.stdout, /hello over HTTPS: TLSv1\.3, ALPN none, you asked for GET \/socat/);
    } else {
      t.diagnostic('socat is not installed: its part was skipped');
    }
    assert.ok(text.includes(`\nnc ${HOST} ${port} reaches the same port, but typed text is not TLS`), text);
    const plain = net.connect(port, HOST);
    plain.on('error', () => {});
    plain.resume();
    plain.end('hello from nc\n');
    await gone(plain);
    await until(() => lines.some((l) => /tlsClientError ERR_SSL_WRONG_VERSION_NUMBER/.test(l)), t.signal);
    await stop();
    assert.ok(lines.includes('server closed'), text);
    assert.equal(existsSync(path.dirname(caFile)), false, 'the CA file is removed');
  });
});

/** A TLS server that only drops failed handshakes (no echo). */
function dropAll(server: tls.Server): tls.Server {
  server.on('tlsClientError', (_err, socket) => socket.destroy());
  return server;
}

/**
 * A relay that passes the server's bytes on at once, and the client's too
 * until the handshake is over; after that it holds the client's records and
 * passes them on in one write at the client's FIN. For plain TCP (no
 * handshake) it holds everything.
 */
function holdingRelay(target: { port: number; host: string }): net.Server {
  return net.createServer({ allowHalfOpen: true }, (client) => {
    const server = net.connect({ ...target, allowHalfOpen: true });
    for (const s of [client, server]) s.on('error', () => {});
    const reader = new RecordReader();
    const held: Buffer[] = [];
    client.on('data', (data: Buffer) => {
      const records = reader.push(data);
      const handshake = records.some((r) => r !== 'encrypted' && r !== 'not TLS');
      // Once holding, hold everything after, so the order never changes.
      if (held.length === 0 && handshake) server.write(data);
      else held.push(data);
    });
    client.on('end', () => server.end(Buffer.concat(held)));
    server.pipe(client);
  });
}

/** Run a program; resolves with its exit code and output. */
function run(program: string, args: string[], env: Record<string, string> = {}, input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { env: { ...process.env, ...env } });
    const deadline = setTimeout(() => child.kill('SIGKILL'), 10_000); // a program that hangs fails its test
    child.on('close', () => clearTimeout(deadline));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** Run `node -e script` (a plain Node, no tsx: fast) with extra environment variables. */
function node(t: TestContext, script: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  void t;
  return run(process.execPath, ['-e', script], env);
}


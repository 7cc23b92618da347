import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough, pipeline } from 'node:stream';
import test, { type TestContext } from 'node:test';
import { UsageError } from '../shared/cli.ts';
import { closed, readAll, readUntil } from '../shared/read.ts';
import { HOST, connect, listen, mustCall } from '../shared/testing.ts';
import {
  createNaiveEcho, createPipeEcho, createPipelineEcho, fastSenderSlowReader, main, roundTrip,
} from './lesson.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Random bytes that contain every byte value at least once. */
function randomPayload(length: number): Buffer {
  const payload = randomBytes(length);
  for (let value = 0; value < 256; value++) payload[value * 7] = value;
  return payload;
}

/** Connect, send a little, read the echo, then reset (no write pending, so it is a real RST). */
async function resetAfterEcho(t: TestContext, port: number): Promise<void> {
  const rude = await connect(t, port);
  const echo = once(rude, 'data');
  rude.write('bye');
  await echo;
  rude.resetAndDestroy();
  await once(rude, 'close');
}

test('the pipe echo returns 4 MiB of random bytes unchanged (same length, same sha256)', async (t) => {
  const port = await listen(t, createPipeEcho());
  const payload = randomPayload(4 * MiB);
  // Odd-sized writes, so the bytes cross in pieces that match nothing on the server side.
  const echoed = await roundTrip(port, HOST, payload, 1371);
  assert.equal(echoed.length, payload.length);
  assert.equal(sha256(echoed), sha256(payload));
});

test('the echo sends no greeting: the first bytes back are the first bytes sent', async (t) => {
  const client = await connect(t, await listen(t, createPipeEcho()));
  const all = readAll(client);
  client.end(Buffer.from([0x00, 0xff]));
  assert.deepEqual([...(await all)], [0x00, 0xff]);
});

test("a greeting like the book's ('Echo server\\r\\n') makes the copy 13 bytes longer than the original", async (t) => {
  const greeter = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.write('Echo server\r\n');
    socket.pipe(socket);
  });
  const payload = randomPayload(64 * KiB);
  const copy = await roundTrip(await listen(t, greeter), HOST, payload);
  assert.equal(copy.length - payload.length, 13);
  assert.notEqual(sha256(copy), sha256(payload));
  assert.ok(copy.subarray(13).equals(payload));
});

test("when the client ends, the pipe echo ends too: the client's 'end' comes after every echoed byte", async (t) => {
  const client = await connect(t, await listen(t, createPipeEcho()));
  const payload = randomPayload(256 * KiB);
  let received = 0;
  client.on('data', (chunk: Buffer) => (received += chunk.length));
  client.on('end', mustCall(t, () => assert.equal(received, payload.length)));
  client.end(payload);
  await once(client, 'close');
});

test('pipe() itself calls end() on the writable side: the echo ends even with allowHalfOpen: true', { timeout: 10_000 }, async (t) => {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  const client = await connect(t, await listen(t, server));
  const all = readAll(client);
  client.end('half open?');
  assert.equal((await all).toString(), 'half open?');
});

test('against a client that does not read, pipe keeps the server buffer near the high-water mark', { timeout: 30_000 }, async (t) => {
  const server = createPipeEcho();
  const total = 16 * MiB;
  const r = await fastSenderSlowReader(server, await listen(t, server), HOST, total);
  // At most one chunk can land on top of a buffer just under the high-water mark; allow twice that.
  const bound = 2 * r.highWaterMark + r.biggestChunk;
  assert.ok(r.biggestChunk > 0 && r.biggestChunk <= 64 * KiB, `biggest chunk ${r.biggestChunk}`);
  assert.ok(r.peak <= bound, `pipe peak ${r.peak} B > ${bound} B (hwm ${r.highWaterMark}, chunk ${r.biggestChunk})`);
  // The back-pressure reached the client: the server stopped reading long before the end.
  assert.equal(r.serverStoppedReading, true);
  assert.ok(r.readBeforeClientRead < total, `server read ${r.readBeforeClientRead} of ${total} B before pausing`);
  assert.equal(r.echoed, total);
});

test('against a client that does not read, the naive echo buffers most of what was sent', { timeout: 30_000 }, async (t) => {
  const server = createNaiveEcho();
  const total = 16 * MiB;
  const r = await fastSenderSlowReader(server, await listen(t, server), HOST, total);
  const pipeBound = 2 * r.highWaterMark + r.biggestChunk;
  // It never stops reading: everything the client sent was read, and what the kernel
  // could not take piled up in the server's own buffer.
  assert.equal(r.serverStoppedReading, false);
  assert.equal(r.readBeforeClientRead, total);
  assert.ok(r.peak > total / 4, `naive peak ${r.peak} B, expected more than a quarter of ${total} B`);
  assert.ok(r.peak > 10 * pipeBound, `naive peak ${r.peak} B vs pipe bound ${pipeBound} B`);
  assert.equal(r.echoed, total);
});

test('the naive echo buffer grows with the input: 8 MiB more sent, more than 4 MiB more held', { timeout: 30_000 }, async (t) => {
  const peaks: number[] = [];
  for (const total of [8 * MiB, 16 * MiB]) {
    const server = createNaiveEcho();
    peaks.push((await fastSenderSlowReader(server, await listen(t, server), HOST, total)).peak);
  }
  assert.ok(peaks[1] - peaks[0] > 4 * MiB, `peaks ${peaks[0]} B (8 MiB sent) and ${peaks[1]} B (16 MiB sent)`);
});

for (const [name, make] of [['pipe', createPipeEcho], ['naive', createNaiveEcho]] as const) {
  test(`a client reset does not crash the ${name} echo, which keeps serving others`, async (t) => {
    const port = await listen(t, make());
    await resetAfterEcho(t, port);
    assert.equal((await roundTrip(port, HOST, Buffer.from('still there'))).toString(), 'still there');
  });
}

test("pipe() adds an 'error' listener of its own to the destination", () => {
  const socket = new net.Socket();
  assert.equal(socket.listenerCount('error'), 0);
  socket.pipe(socket);
  assert.equal(socket.listenerCount('error'), 1);
  socket.destroy();
});

test("pipe() is no error handler: with no 'error' listener of its own, a reset crashes the process", { timeout: 30_000 }, async (t) => {
  // A server like the book's, in a child process so its crash is observable.
  const script = `
    import net from 'node:net';
    const server = net.createServer((socket) => {
      socket.pipe(socket);
      socket.on('close', () => server.close());
    });
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill());
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout });
  const [line] = (await once(lines, 'line')) as [string];
  lines.close();
  const port = Number(line);
  await resetAfterEcho(t, port);
  const [code] = (await exited) as [number | null];
  assert.equal(code, 1, `child exit code ${code}, stderr: ${stderr}`);
  assert.match(stderr, /Unhandled 'error' event/);
  assert.match(stderr, /ECONNRESET/);
});

test('when the source of a.pipe(b) fails, pipe() leaves b open: nobody ends or destroys it', async (t) => {
  const b = await connect(t, await listen(t, createPipeEcho()));
  const a = new PassThrough();
  a.on('error', mustCall(t, (err: Error) => assert.equal(err.message, 'source failed')));
  a.pipe(b);
  a.write('from a\n');
  assert.equal(await readUntil(b, (text) => text.includes('\n')), 'from a\n');
  const aClosed = closed(a);
  a.destroy(new Error('source failed'));
  await aClosed;
  assert.equal(b.destroyed, false);
  assert.equal(b.writableEnded, false);
  // Still fully usable: the cleanup is left to you.
  b.write('still open\n');
  assert.equal(await readUntil(b, (text) => text.includes('\n')), 'still open\n');
  b.end();
  await readAll(b);
});

test('when the source of pipeline(a, b) fails, pipeline() destroys b and calls back once with the error', { timeout: 10_000 }, async (t) => {
  const b = await connect(t, await listen(t, createPipeEcho()));
  const a = new PassThrough();
  const bClosed = closed(b); // b is destroyed with the error: once() would reject on it
  pipeline(a, b, mustCall(t, (err: NodeJS.ErrnoException | null) => assert.equal(err?.message, 'source failed')));
  a.write('from a\n');
  assert.equal(await readUntil(b, (text) => text.includes('\n')), 'from a\n');
  a.destroy(new Error('source failed'));
  await bClosed;
  assert.equal(b.destroyed, true);
});

test('the pipeline echo is byte-exact and calls back once, without an error, when the client ends', async (t) => {
  let onDone: (err: NodeJS.ErrnoException | null) => void = () => {};
  const port = await listen(t, createPipelineEcho((err) => onDone(err)));
  // Set after listen(): its cleanup runs first, even if this count check fails.
  onDone = mustCall(t, (err) => assert.equal(err, null));
  const payload = randomPayload(1 * MiB);
  assert.equal(sha256(await roundTrip(port, HOST, payload)), sha256(payload));
});

test('the pipeline echo hands a client reset to its callback instead of crashing', { timeout: 10_000 }, async (t) => {
  let failed!: (err: NodeJS.ErrnoException | null) => void;
  const reported = new Promise<NodeJS.ErrnoException | null>((resolve) => (failed = resolve));
  let onDone: (err: NodeJS.ErrnoException | null) => void = () => {};
  const port = await listen(t, createPipelineEcho((err) => onDone(err)));
  onDone = mustCall(t, (err) => failed(err));
  await resetAfterEcho(t, port);
  assert.equal((await reported)?.code, 'ECONNRESET');
});

// ── Real tools, as the README tells learners to use them ───────────────────

function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

function ncSkip(): string | false {
  if (process.platform === 'win32') return 'needs a POSIX shell';
  if (!hasTool('nc')) return 'nc is not installed (apt-get install netcat-openbsd)';
  const help = spawnSync('nc', ['-h'], { encoding: 'utf8' });
  if (!`${help.stdout}${help.stderr}`.includes('-N')) return 'this nc has no -N flag (the README uses netcat-openbsd)';
  return false;
}

function socatSkip(): string | false {
  if (process.platform === 'win32') return 'needs a POSIX shell';
  return hasTool('socat') ? false : 'socat is not installed (apt-get install socat)';
}

/** Run a shell command that copies `file` to `copy` through the echo, then cmp them. */
async function copyThroughEcho(t: TestContext, command: string): Promise<void> {
  const port = await listen(t, createPipeEcho());
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lesson04-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'file');
  const copy = path.join(dir, 'copy');
  const payload = randomPayload(1 * MiB);
  await writeFile(file, payload);
  // Asynchronous spawn: the echo server runs in this very process and must keep serving.
  const child: ChildProcess = spawn('sh', ['-c', `${command} < "$3" > "$4" && cmp "$3" "$4"`, 'sh', HOST, String(port), file, copy], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.after(() => child.kill());
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, `${command} then cmp exited with ${code}: ${stderr}`);
  assert.equal(sha256(await readFile(copy)), sha256(payload));
}

test('nc -N HOST PORT < file > copy gives a copy that cmp finds identical', { skip: ncSkip(), timeout: 30_000 }, async (t) => {
  await copyThroughEcho(t, 'nc -N "$1" "$2"');
});

test('socat -t 10 - TCP:HOST:PORT < file > copy gives a copy that cmp finds identical', { skip: socatSkip(), timeout: 30_000 }, async (t) => {
  await copyThroughEcho(t, 'socat -t 10 - "TCP:$1:$2"');
});

test('--mib must be a whole number from 1 to 1024', async () => {
  for (const mib of ['0', 'lots', '1025']) {
    await assert.rejects(main({ serve: false, port: 0, host: HOST, extra: { mib } }), UsageError);
  }
});

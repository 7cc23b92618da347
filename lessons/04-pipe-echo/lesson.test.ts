import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import stream, { PassThrough, Transform, pipeline } from 'node:stream';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../shared/cli.ts';
import { closed, readAll, readUntil } from '../shared/read.ts';
import { HOST, connect, listen, mustCall, nextConnection, onCleanup } from '../shared/testing.ts';
import { has, start } from '../../test/processes.ts';
import {
  MAX_MIB, READ, createNaiveEcho, createPipeEcho, createPipelineEcho, fastSenderSlowReader, main, roundTrip, type BufferReport,
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

describe('lesson 04', { concurrency: true, timeout: 60_000 }, () => {
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

  /** The bound, as the README states it: writableHighWaterMark + one read to send, readableHighWaterMark + one read received. */
  function assertWithinBound(r: BufferReport, total: number): void {
    assert.ok(r.biggestChunk > 0 && r.biggestChunk <= READ, `one read is at most ${READ} B; the biggest was ${r.biggestChunk} B`);
    assert.ok(r.peak <= r.highWaterMark + READ, `held ${r.peak} B unsent, expected at most writableHighWaterMark ${r.highWaterMark} + one read ${READ}`);
    assert.ok(r.peakUnread <= r.readableHighWaterMark + READ, `held ${r.peakUnread} B unread, expected at most readableHighWaterMark ${r.readableHighWaterMark} + one read ${READ}`);
    // The back-pressure reached the client: the server stopped reading long before the end.
    assert.equal(r.serverStoppedReading, true, 'the server stopped reading');
    assert.ok(r.readBeforeClientRead < total, `server read ${r.readBeforeClientRead} of ${total} B before pausing`);
    // And once the client read, the server resumed and every byte came back.
    assert.equal(r.echoed, total, 'every byte came back once the client read');
  }

  for (const [name, make] of [
    ['the pipe echo', () => createPipeEcho()],
    ['the pipeline echo', () => createPipelineEcho()],
    ['the pipe echo with highWaterMark 1 MiB', () => createPipeEcho({ highWaterMark: MiB })],
  ] as const) {
    test(`a client that never reads: ${name} holds at most writableHighWaterMark + one read (64 KiB) to send, and readableHighWaterMark + one read received; once the client reads, every byte comes back`, async (t) => {
      const server = make();
      const total = 16 * MiB;
      const r = await fastSenderSlowReader(server, await listen(t, server), HOST, total);
      assertWithinBound(r, total);
    });
  }

  test('net.createServer({ highWaterMark }) sets both high-water marks of every accepted socket, and the bound grows with them', async (t) => {
    const server = createPipeEcho({ highWaterMark: MiB });
    const accepted = nextConnection(server);
    const client = await connect(t, await listen(t, server));
    const socket = await accepted;
    assert.equal(socket.readableHighWaterMark, MiB);
    assert.equal(socket.writableHighWaterMark, MiB);
    assert.equal(client.writableHighWaterMark, stream.getDefaultHighWaterMark(false), 'the client keeps the default');
    client.destroy();
    // With the default the unsent peak stays near 64 KiB; with 1 MiB it goes past it.
    const bigger = createPipeEcho({ highWaterMark: MiB });
    const r = await fastSenderSlowReader(bigger, await listen(t, bigger), HOST, 16 * MiB);
    assert.ok(r.peak > 2 * READ, `unsent peak ${r.peak} B with a 1 MiB high-water mark`);
  });

  test('stream.setDefaultHighWaterMark() changes the default for sockets and Transforms created after it: 16 or 64 KiB are only defaults', () => {
    const before = stream.getDefaultHighWaterMark(false);
    assert.equal(before, Number(process.versions.node.split('.')[0]) >= 22 ? 64 * KiB : 16 * KiB);
    let socket: net.Socket;
    let transform: PassThrough;
    stream.setDefaultHighWaterMark(false, 4 * KiB);
    try {
      // Set and restored in one synchronous run: no other test sees the changed default.
      socket = new net.Socket();
      transform = new PassThrough();
    } finally {
      stream.setDefaultHighWaterMark(false, before);
    }
    assert.deepEqual([socket.readableHighWaterMark, socket.writableHighWaterMark, transform.writableHighWaterMark], [4 * KiB, 4 * KiB, 4 * KiB]);
    socket.destroy();
    const later = new net.Socket();
    assert.equal(later.writableHighWaterMark, before, 'restored');
    later.destroy();
  });

  test('net.createServer({ pauseOnConnect: true }): the accepted socket reads nothing until resume(), and pipe() resumes it', async (t) => {
    const paused = net.createServer({ pauseOnConnect: true });
    const control = net.createServer();
    const [pausedSide, controlSide] = [nextConnection(paused), nextConnection(control)];
    const [a, b] = [await connect(t, await listen(t, paused)), await connect(t, await listen(t, control))];
    const [socket, other] = [await pausedSide, await controlSide];
    a.write('hello');
    b.write('hello');
    await once(other, 'data'); // the control has read its bytes; the paused socket's wait in the kernel
    assert.equal(socket.bytesRead, 0, 'the paused socket read nothing');
    socket.on('error', () => {});
    socket.pipe(socket); // an echo: pipe() resumes the socket
    assert.equal(await readUntil(a, (text) => text.length >= 5), 'hello');
  });

  test("pipe() pauses the socket when write() returns false, and resumes it in its 'drain' listener: paused right before every 'drain', flowing right after", async (t) => {
    const server = createPipeEcho();
    const seen: [boolean | null, boolean | null][] = [];
    server.on('connection', (socket) => {
      // Around each 'drain' emit, after all its listeners (pipe adds its own at the first pause).
      const emit = socket.emit as (this: net.Socket, event: string | symbol, ...args: unknown[]) => boolean;
      socket.emit = function (this: net.Socket, event: string | symbol, ...args: unknown[]) {
        if (event !== 'drain') return emit.call(this, event, ...args);
        const before = socket.readableFlowing;
        const result = emit.call(this, event, ...args);
        seen.push([before, socket.readableFlowing]);
        return result;
      } as net.Socket['emit'];
    });
    const total = 16 * MiB;
    const r = await fastSenderSlowReader(server, await listen(t, server), HOST, total);
    assert.equal(r.echoed, total);
    assert.ok(seen.length > 0, "at least one 'drain'");
    assert.deepEqual([...new Set(seen.map(([b, a]) => `${b} → ${a}`))], ['false → true'], "readableFlowing before → after each 'drain'");
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

  function ncSkip(): string | false {
    if (process.platform === 'win32') return 'needs a POSIX shell';
    if (!has('nc')) return 'nc is not installed (apt-get install netcat-openbsd)';
    const help = spawnSync('nc', ['-h'], { encoding: 'utf8' });
    if (!`${help.stdout}${help.stderr}`.includes('-N')) return 'this nc has no -N flag (the README uses netcat-openbsd)';
    return false;
  }

  function socatSkip(): string | false {
    if (process.platform === 'win32') return 'needs a POSIX shell';
    return has('socat') ? false : 'socat is not installed (apt-get install socat)';
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

  test(`--mib must be a whole number from 1 to ${MAX_MIB}, said in one line`, async () => {
    for (const mib of ['0', 'lots', String(MAX_MIB + 1), '1024']) {
      await assert.rejects(main({ serve: false, port: 0, host: HOST, extra: { mib } }), (err: Error) => {
        assert.ok(err instanceof UsageError, String(err));
        assert.equal(err.message, `--mib must be a whole number from 1 to ${MAX_MIB} (got ${JSON.stringify(mib)})`);
        return true;
      });
    }
  });

  // ── Transforms at the client's FIN (the exercise's note) ───────────────────

  /**
   * An echo through a Transform that upper-cases a–z. It calls back at once, or only after the
   * client's FIN has been read, as a slow lookup would.
   */
  function shoutingEcho(later: boolean, allowHalfOpen: boolean): net.Server {
    return net.createServer({ allowHalfOpen }, (socket) => {
      const finRead = new Promise((resolve) => socket.once('end', resolve));
      const shout = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          const out = Buffer.from(chunk.toString('latin1').replace(/[a-z]/g, (c) => c.toUpperCase()), 'latin1');
          if (later) void finRead.then(() => setImmediate(() => done(null, out)));
          else done(null, out);
        },
      });
      pipeline(socket, shout, socket, () => {});
    });
  }

  for (const [name, later, allowHalfOpen, expected] of [
    ['a Transform that calls back at once loses nothing, even without allowHalfOpen', false, false, 'HELLO, ECHO'],
    ["a Transform that calls back after the client's FIN loses the chunk it holds: Node has ended the socket by then", true, false, ''],
    ['with allowHalfOpen: true, that Transform loses nothing: pipeline() ends the socket after its last byte', true, true, 'HELLO, ECHO'],
  ] as const) {
    test(name, async (t) => {
      const client = await connect(t, await listen(t, shoutingEcho(later, allowHalfOpen)));
      client.on('error', () => {});
      const answer = readAll(client);
      client.end('hello, echo');
      assert.equal((await answer).toString(), expected);
    });
  }

  // ── the run and --serve ────────────────────────────────────────────────────

  test("the run draws non-text bytes in hex, as the README's timeline shows them", async (t) => {
    const lines: string[] = [];
    t.mock.method(console, 'log', (line: string) => lines.push(String(line)));
    await main({ serve: false, port: 0, host: HOST, extra: { mib: '1' } });
    const out = lines.join('\n');
    const readme = await readFile(fileURLToPath(new URL('./README.md', import.meta.url)), 'utf8');
    for (const row of ['write() <00 ff 0d 0a 80> 5 B', 'data <00 ff 0d 0a 80> 5 B', 'write() "hello\\n" 6 B']) {
      assert.ok(out.includes(row), `the run draws ${row}`);
      assert.ok(readme.includes(row), `the README shows ${row}`);
    }
    assert.match(out, /every echo returned every byte: yes/);
  });

  test('--serve runs the pipe echo with the real address in its advice, survives a reset, and on SIGTERM mid-transfer ends the connection with a FIN and exits 0', async (t) => {
    const lesson = start(t, 'bin/lesson.ts', ['04', '--serve']);
    await lesson.waitFor(/Ctrl-C stops the server/);
    const [, port] = lesson.stdout.match(/listening on 127\.0\.0\.1:(\d+)\./) ?? [];
    assert.ok(port, lesson.stdout);
    assert.doesNotMatch(lesson.stdout, /\b(PORT|HOST)\b/, 'no placeholders');
    assert.match(lesson.stdout, new RegExp(`nc -N 127\\.0\\.0\\.1 ${port} < file > copy`));

    const rude = await connect(t, Number(port));
    rude.resetAndDestroy();
    await lesson.waitFor(/error ECONNRESET/);

    // A client in the middle of a transfer: it writes and reads until the server's FIN.
    const client = await connect(t, Number(port));
    onCleanup(t, () => client.destroy());
    const errors: string[] = [];
    client.on('error', (err: NodeJS.ErrnoException) => errors.push(err.code ?? err.message));
    let echoed = 0;
    let sent = 0;
    let stopped = false;
    let signalled = false;
    client.on('data', (chunk: Buffer) => {
      echoed += chunk.length;
      if (!signalled && echoed > MiB) {
        signalled = true;
        lesson.child.kill('SIGTERM');
      }
    });
    const ended = new Promise<void>((resolve) => client.once('end', () => {
      stopped = true;
      resolve();
    }));
    const piece = Buffer.alloc(64 * KiB, 'e');
    while (!stopped && !client.destroyed && sent < 256 * MiB) {
      sent += piece.length;
      if (!client.write(piece)) await Promise.race([once(client, 'drain'), ended]);
    }
    await ended;
    assert.ok(signalled, 'SIGTERM was sent during the transfer');
    client.end();
    await closed(client);
    assert.deepEqual(errors, [], 'a FIN, not a reset');
    assert.ok(echoed > MiB && echoed <= sent, `echoed ${echoed} of ${sent} B`);
    const { code, stdout, stderr } = await lesson.finished;
    assert.equal(code, 0, stderr);
    assert.match(stdout, /stopping \(SIGTERM\): closing the server and finishing 1 open connection/);
    assert.match(stdout, /server closed/);
  });
});

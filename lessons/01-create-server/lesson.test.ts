import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { describe, test, type TestContext } from 'node:test';
import { finishConnection } from '../shared/cli.ts';
import { closed, readAll, readUntil } from '../shared/read.ts';
import { HOST, ONE_READ, assertStopsReading, connect, listen, mustCall, nextConnection, until } from '../shared/testing.ts';
import { runScript } from '../../test/processes.ts';
import { ANSWER_BATCH, GREETING, MAX_LINE, TOO_LONG, createGreeter, main, reach, reply } from './lesson.ts';

/** A greeter, a connected client that has read the greeting, and the server's socket for it. */
async function greeted(t: TestContext): Promise<{ client: net.Socket; socket: net.Socket }> {
  const server = createGreeter();
  const accepted = nextConnection(server);
  const client = await connect(t, await listen(t, server));
  await readUntil(client, (text) => text.includes(GREETING));
  return { client, socket: await accepted };
}

// A broken lesson makes a test wait for ever: the time limit turns that into a failure.
describe('lesson 01', { concurrency: true, timeout: 20_000 }, () => {
  test("the function given to createServer is a listener of the server's connection event", async (t) => {
    const onConnection = mustCall(t, (socket: net.Socket) => {
      assert.ok(socket instanceof net.Socket);
      socket.end();
    });
    const server = net.createServer(onConnection);
    assert.deepEqual(server.listeners('connection'), [onConnection]);
    const client = await connect(t, await listen(t, server));
    await readAll(client);
  });

  test("server.on('connection', listener) does the same as passing it to createServer", async (t) => {
    const server = net.createServer();
    server.on('connection', mustCall(t, (socket: net.Socket) => socket.end('hi')));
    const client = await connect(t, await listen(t, server));
    assert.equal((await readAll(client)).toString(), 'hi');
  });

  test('the greeter greets each client as soon as it connects', async (t) => {
    const port = await listen(t, createGreeter());
    for (const client of [await connect(t, port), await connect(t, port)]) {
      assert.equal(await readUntil(client, (text) => text.length >= GREETING.length), GREETING);
    }
  });

  test('the greeter answers every line, however the bytes were split', async (t) => {
    const { client } = await greeted(t);
    const expected = reply('first') + reply('second') + reply('third');
    const answers = readUntil(client, (text) => text.length >= expected.length);
    client.write('fir');
    client.write('st\nsecond\r\nthi'); // telnet ends lines with \r\n
    client.write('rd\n');
    assert.equal(await answers, expected);
  });

  test('each read is at most 64 KiB, and the answers go out in writes of about ANSWER_BATCH characters, not one per line', async (t) => {
    const { client, socket } = await greeted(t);
    let reads = 0;
    let largest = 0;
    socket.prependListener('data', (text: string) => {
      reads += 1;
      largest = Math.max(largest, Buffer.byteLength(text));
    });
    const writes: number[] = [];
    const write = socket.write;
    socket.write = function (this: net.Socket, ...args: Parameters<net.Socket['write']>) {
      writes.push(String(args[0]).length);
      return write.apply(this, args);
    } as net.Socket['write'];
    const line = 'z'.repeat(31);
    const count = 32 * 1024; // 1 MiB of lines
    const total = count * reply(line).length;
    const answers = readUntil(client, (text) => text.length >= total);
    client.write(`${line}\n`.repeat(count));
    await answers;
    assert.ok(largest <= ONE_READ, `a read of ${largest} bytes`);
    assert.ok(reads >= (count * (line.length + 1)) / ONE_READ, `${reads} reads`);
    assert.ok(writes.every((length) => length < ANSWER_BATCH + reply(line).length), `a write of ${Math.max(...writes)} characters`);
    assert.ok(writes.length <= reads + total / ANSWER_BATCH, `${writes.length} writes for ${reads} reads`);
  });

  test('a character that TCP cut in two between reads is answered whole', async (t) => {
    const { client, socket } = await greeted(t);
    const answer = readUntil(client, (text) => text.endsWith('\n'));
    const bytes = Buffer.from('é\n'); // é is two bytes in UTF-8
    client.write(bytes.subarray(0, 1));
    await until(() => socket.bytesRead >= 1); // the server has read half of it…
    client.write(bytes.subarray(1));
    assert.equal(await answer, reply('é')); // …and still answers the whole character
  });

  test('a line of exactly MAX_LINE characters is answered, whole or one character at a time, with \\n or \\r\\n', async (t) => {
    const longest = 'x'.repeat(MAX_LINE);
    for (const [ending, pieces] of [['\n', 1], ['\r\n', 1], ['\r\n', MAX_LINE + 2]] as const) {
      const { client } = await greeted(t);
      const answer = readUntil(client, (text) => text.endsWith('\n'));
      const line = longest + ending;
      const size = Math.ceil(line.length / pieces);
      for (let at = 0; at < line.length; at += size) client.write(line.slice(at, at + size));
      assert.equal(await answer, reply(longest), `${JSON.stringify(ending)} in ${pieces} piece(s)`);
    }
  });

  test('a line longer than MAX_LINE ends the connection with the goodbye, finished with its newline or not', async (t) => {
    for (const line of ['x'.repeat(MAX_LINE + 1) + '\n', 'x'.repeat(MAX_LINE + 1)]) {
      const { client } = await greeted(t);
      const all = readAll(client); // resolves on the server's FIN; the client never sends its own
      client.write(line);
      assert.equal((await all).toString(), TOO_LONG, `after ${line.endsWith('\n') ? 'a finished' : 'an unfinished'} line`);
    }
    assert.equal(TOO_LONG, 'line longer than 4096 characters, bye\n');
  });

  test('the lines before a too-long one are answered, then the goodbye', async (t) => {
    const { client } = await greeted(t);
    const all = readAll(client);
    client.write(`one\ntwo\n${'x'.repeat(MAX_LINE + 1)}\nthree\n`);
    assert.equal((await all).toString(), reply('one') + reply('two') + TOO_LONG);
  });

  test('the goodbye arrives whole, then a FIN, while the client keeps sending', async (t) => {
    const { client, socket } = await greeted(t);
    const errors: string[] = [];
    client.on('error', (err: NodeJS.ErrnoException) => errors.push(err.code ?? err.message));
    const all = readAll(client);
    // Far past the limit, and on and on after it, until the server's FIN: it must still end cleanly.
    const flood = Buffer.alloc(MAX_LINE, 'y');
    let sent = 0;
    while (!client.readableEnded && !client.writableEnded && !client.destroyed) {
      sent += flood.length;
      if (!client.write(flood)) await Promise.race([once(client, 'drain'), all]);
    }
    assert.equal((await all).toString(), TOO_LONG);
    assert.ok(sent > 2 * MAX_LINE, `the client sent ${sent} bytes`);
    assert.equal(socket.writableFinished, true, "the server's FIN went out after the goodbye");
    assert.equal(await closed(client), false, 'closed without an error');
    assert.deepEqual(errors, [], 'the client saw no EPIPE and no reset');
  });

  test("a last line without a newline is answered when the client's FIN arrives", async (t) => {
    const { client } = await greeted(t);
    const all = readAll(client);
    client.end('first\nno newline');
    assert.equal((await all).toString(), reply('first') + reply('no newline'));
  });

  test('a client that resets does not crash the server, which keeps greeting others', async (t) => {
    const server = createGreeter();
    const port = await listen(t, server);
    const rude = await connect(t, port);
    await readUntil(rude, (text) => text.includes(GREETING));
    // RST instead of FIN: nothing is pending on this socket, so every Node sends a real RST.
    rude.resetAndDestroy();
    await once(rude, 'close');
    const polite = await connect(t, port);
    assert.equal(await readUntil(polite, (text) => text.length >= GREETING.length), GREETING);
  });

  test("without an 'error' listener, one client that resets crashes the whole server process", async () => {
    // In a child process: the crash is the point. Its server greets, then a client resets.
    const script = `
      const net = require('node:net');
      const server = net.createServer((socket) => socket.write('hello\\n'));
      server.listen(0, '127.0.0.1', () => {
        const client = net.connect(server.address().port, '127.0.0.1', () => client.resetAndDestroy());
        client.on('error', () => {});
      });`;
    const { code, stderr } = await runScript(script);
    assert.equal(code, 1, stderr);
    assert.match(stderr, /ECONNRESET|EPIPE/, 'the unhandled error of the reset');
  });

  test('binary garbage is answered like any other line', async (t) => {
    const { client } = await greeted(t);
    const answer = readUntil(client, (text) => text.endsWith('\n'));
    client.write(Buffer.from([0x00, 0xff, 0xfe, 0x0a]));
    assert.match(await answer, /^you said: \u0000\ufffd\ufffd\n$/);
  });

  test(
    'a client that never reads: the server stops reading, holding at most writableHighWaterMark + the answers to one read (64 KiB) to send, and readableHighWaterMark + one read received',
    async (t) => {
      const { client, socket } = await greeted(t);
      client.pause(); // reading the greeting left it flowing: from now on it reads nothing
      const line = `${'y'.repeat(99)}\n`;
      const total = line.length * 160_000; // 16 MB
      const answersToOneRead = Math.ceil(ONE_READ / line.length) * reply(line.slice(0, -1)).length;
      const sender = await assertStopsReading(t, client, socket, Buffer.from(line.repeat(Math.ceil(ONE_READ / line.length))), total, answersToOneRead);

      // Now the client reads: the server resumes on 'drain', and every line gets its answer.
      let newlines = 0;
      client.on('data', (chunk: Buffer) => {
        for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) newlines += 1;
      });
      client.resume();
      await sender.done;
      client.end();
      await once(client, 'end');
      assert.equal(newlines, total / line.length, 'one answer per line');
    },
  );

  test('the high-water marks are 16 KiB on Node 20 and 64 KiB since Node 22', async (t) => {
    const { socket } = await greeted(t);
    const expected = Number(process.versions.node.split('.')[0]) >= 22 ? 64 * 1024 : 16 * 1024;
    assert.equal(socket.writableHighWaterMark, expected);
    assert.equal(socket.readableHighWaterMark, expected);
  });

  test('1,000,000 one-character lines are answered in linear time (10 times the lines: well under 40 times the time)', async (t) => {
    const port = await listen(t, createGreeter());
    const timeLines = async (lines: number): Promise<number> => {
      const client = await connect(t, port);
      let answers = -1; // the greeting ends with a newline too
      client.on('data', (chunk: Buffer) => {
        for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) answers += 1;
      });
      const started = performance.now();
      client.end(Buffer.from('x\n'.repeat(lines)));
      await once(client, 'end');
      assert.equal(answers, lines);
      return performance.now() - started;
    };
    const small = await timeLines(100_000);
    const large = await timeLines(1_000_000);
    assert.ok(large < 40 * small, `100,000 lines took ${small.toFixed(0)} ms, 1,000,000 took ${large.toFixed(0)} ms`);
  });

  test('when --serve stops (finishConnection), the greeter writes nothing after end() and the client gets a FIN', async (t) => {
    const { client, socket } = await greeted(t);
    const serverErrors: string[] = [];
    socket.on('error', (err: NodeJS.ErrnoException) => serverErrors.push(err.code ?? err.message));
    const clientErrors: string[] = [];
    client.on('error', (err: NodeJS.ErrnoException) => clientErrors.push(err.code ?? err.message));
    const all = readAll(client);
    // Every write ends in an unfinished line, so the server always holds one when it stops.
    const lines = Buffer.from('\nhello'.repeat(1000));
    const sending = (async () => {
      while (!client.readableEnded && !client.writableEnded && !client.destroyed) {
        if (!client.write(lines)) await Promise.race([once(client, 'drain'), all]);
      }
    })();
    await once(socket, 'data');
    finishConnection(socket);
    const text = (await all).toString(); // the server's FIN; the client then sends its own
    await sending;
    assert.equal(await closed(socket), false);
    assert.match(text, /^(you said: (hello)?\n)*$/, 'only whole answers, then the FIN');
    assert.deepEqual(serverErrors, [], 'no write after end()');
    assert.deepEqual(clientErrors, [], 'a FIN, not a reset');
  });

  test('listen(0, host, callback): the callback runs once and address() has the real port', async (t) => {
    const server = net.createServer();
    t.after(() => server.close());
    server.listen(0, HOST, mustCall(t, () => {
      const address = server.address() as net.AddressInfo;
      assert.equal(address.address, HOST);
      assert.equal(address.family, 'IPv4');
      assert.ok(address.port > 0 && address.port <= 65535, `got port ${address.port}`);
    }));
    await once(server, 'listening');
  });

  test('without a host, Node listens on every interface', async (t) => {
    const server = net.createServer();
    t.after(() => server.close());
    server.listen(0);
    await once(server, 'listening');
    const { address } = server.address() as net.AddressInfo;
    assert.ok(address === '::' || address === '0.0.0.0', `expected an any-address, got ${address}`);
  });

  test('the lesson prints only true things about the address it bound, and no port of a closed server to connect to', async (t) => {
    const log = t.mock.method(console, 'log', () => {});
    for (const [host, expected] of [[HOST, /only programs on this machine can connect/], ['0.0.0.0', /every network interface: other machines .* can connect/]] as const) {
      log.mock.resetCalls();
      await main({ serve: false, port: 0, host, extra: {} });
      const output = log.mock.calls.map((call) => call.arguments.join(' ')).join('\n');
      assert.match(output, new RegExp(`bound to ${host.replace(/\./g, '\\.')}`));
      assert.match(output, expected);
      assert.doesNotMatch(output, /cannot connect/);
      assert.doesNotMatch(output, /\bnc \S+ \d+/, 'no nc command for a server that has closed');
    }
    assert.match(reach('::1'), /only programs on this machine/);
    assert.match(reach('::'), /every network interface/);
    assert.match(reach('192.0.2.7'), /machines that can reach that address can connect/);
  });
});

// The shared helpers every lesson relies on: flag parsing and listen errors
// (lessons/shared/cli.ts), the timeline, what it records from real sockets
// and how it draws it (lessons/shared/timeline.ts), and the ports where
// nothing listens (lessons/shared/ports.ts).
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { describe as suite, test } from 'node:test';
import { DEFAULT_HOST, LessonError, UsageError, isLoopback, listening, parseLessonArgs } from '../lessons/shared/cli.ts';
import { closed, readAll } from '../lessons/shared/read.ts';
import { HOST, connect, listen, refusedPort, unboundUdpPort } from '../lessons/shared/testing.ts';
import { Timeline, describe, width } from '../lessons/shared/timeline.ts';

suite('cli.ts', () => {
  test('no flags: demo mode on 127.0.0.1, port 0', () => {
    assert.deepEqual(parseLessonArgs([]), { serve: false, port: 0, host: DEFAULT_HOST, extra: {} });
    assert.equal(DEFAULT_HOST, '127.0.0.1');
  });

  test('--serve, --port and --host are read; --help returns null', () => {
    assert.deepEqual(parseLessonArgs(['--serve', '--port', '9000', '--host', '::1']), { serve: true, port: 9000, host: '::1', extra: {} });
    assert.equal(parseLessonArgs(['--help']), null);
  });

  test('lesson flags land in extra', () => {
    const opts = parseLessonArgs(['--rounds', '5'], { rounds: { type: 'string', hint: '<n>', help: 'rounds' } });
    assert.deepEqual(opts?.extra, { rounds: '5' });
  });

  test('bad flags are UsageErrors with one line that says what is valid', () => {
    const cases: [string[], RegExp][] = [
      [['--bogus'], /^unknown flag --bogus\. Valid flags: --serve, --port <n>, --host <addr>, --help$/],
      [['--port'], /^flag --port needs a value\./],
      [['--port', '-1'], /^flag --port needs a value \(write --port=-1/],
      [['--port=-1'], /^--port must be a whole number from 0 to 65535 \(got "-1"\)$/],
      [['--port', '65536'], /^--port must be a whole number/],
      [['--port', '1e3'], /^--port must be a whole number/],
      [['--serve=yes'], /^flag --serve takes no value/],
      [['extra'], /^unexpected argument extra/],
      [['--host', ' '], /^--host needs an address/],
    ];
    for (const [argv, message] of cases) {
      assert.throws(() => parseLessonArgs(argv), (err: Error) => {
        assert.ok(err instanceof UsageError, `${argv.join(' ')}: ${err}`);
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /\n/);
        return true;
      });
    }
  });

  test('isLoopback knows 127.x.y.z, ::1 and localhost, and nothing else', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.ok(isLoopback(host), host);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com']) assert.ok(!isLoopback(host), host);
  });

  test('listening() resolves with the real address', async (t) => {
    const server = net.createServer();
    t.after(() => server.close());
    server.listen(0, HOST);
    const address = await listening(server);
    assert.equal(address.address, HOST);
    assert.ok(address.port > 0);
  });

  test('listening() turns a busy port into a LessonError that suggests --port', async (t) => {
    const port = await listen(t, net.createServer());
    const second = net.createServer();
    second.listen(port, HOST);
    await assert.rejects(listening(second), (err: Error) => {
      assert.ok(err instanceof LessonError);
      assert.equal(err.message, `port ${port} is already in use: choose another with --port <n>, or --port 0 for any free port`);
      return true;
    });
    assert.equal(second.listening, false);
  });

  test('listening() explains an address that is not on this machine', { skip: process.platform !== 'linux' && 'TEST-NET addresses behave differently outside Linux' }, async () => {
    const server = net.createServer();
    server.listen(0, '192.0.2.1'); // TEST-NET-1: never assigned to a real machine
    await assert.rejects(listening(server), /192\.0\.2\.1 is not an address of this machine: use --host 127\.0\.0\.1/);
    server.close(() => {});
    await once(server, 'close');
  });
});

suite('timeline.ts', () => {
  test('describe() quotes text with its byte count and shows other bytes in hex', () => {
    assert.equal(describe('hello\n'), '"hello\\n" 6 B');
    assert.equal(describe(Buffer.from('你好')), '"你好" 6 B');
    assert.equal(describe(Buffer.from([0, 1, 2, 255])), '<00 01 02 ff> 4 B');
    assert.equal(describe(Buffer.from([0xff, 0xfe, 0x41])), '<ff fe 41> 3 B', 'bytes that are not UTF-8 are not text');
    assert.equal(describe(Buffer.from([0, 1, 2, 3, 4, 5, 6, 7])), '<00 01 02 03 04 05 …> 8 B');
    assert.equal(describe('x'.repeat(40)), `"${'x'.repeat(17)}…" 40 B`);
    assert.equal(describe(undefined), '');
  });

  test('a timeline keeps at most `limit` events, counts the rest, and says so once when live', () => {
    const printed: string[] = [];
    const timeline = new Timeline({ live: true, limit: 3, print: (line) => printed.push(line) });
    for (let i = 0; i < 10; i += 1) timeline.server('data', String(i));
    assert.equal(timeline.events.length, 3);
    assert.equal(timeline.dropped, 7);
    assert.equal(printed.length, 4, printed.join('\n'));
    assert.match(printed[3], /stops drawing here, after 3 events; the server keeps running/);
    assert.match(timeline.render(), /… and 7 more events, not drawn \(the limit is 3\)$/);
  });

  test('a detail given as a function is worked out only for an event the timeline keeps', () => {
    const timeline = new Timeline({ limit: 2 });
    let calls = 0;
    const detail = () => String((calls += 1));
    for (let i = 0; i < 5; i += 1) timeline.server('line', detail);
    assert.equal(calls, 2, 'two events kept, two details worked out');
    assert.deepEqual(timeline.events.map((e) => e.detail), ['1', '2']);
  });

  test('width() counts CJK characters as two cells', () => {
    assert.equal(width('abc'), 3);
    assert.equal(width('你好'), 4);
  });

  test('render() puts client events left, server events right, and arrows across', () => {
    const timeline = new Timeline();
    timeline.client('connect');
    timeline.server('connection');
    timeline.add('client', 'write()', describe('hi'), true);
    timeline.add('server', 'write()', describe('你好'), true);
    const [header, rule, ...rows] = timeline.render().split('\n');
    assert.match(header, /^\s+ms\s+client\s+server$/);
    assert.match(rule, /^─+\s+─+\s+─+$/);
    const serverColumn = header.indexOf('server');
    assert.equal(rows.length, 4);
    assert.match(rows[0], /^\s+\d+\.\d {2}connect$/);
    assert.equal(rows[1].indexOf('connection'), serverColumn);
    assert.match(rows[2], /write\(\) "hi" 2 B\s─+▶$/);
    assert.equal(rows[2].length, serverColumn, 'the arrow ends where the server column starts');
    assert.match(rows[3], /◀─+ write\(\) "你好" 6 B$/);
    assert.equal(rows[3].indexOf('write()'), serverColumn);
  });

  test('times are measured, in order, from the start of the timeline', () => {
    const timeline = new Timeline();
    timeline.client('a');
    timeline.client('b');
    const [a, b] = timeline.events;
    assert.ok(a.ms >= 0 && b.ms >= a.ms);
  });

  test('watch() records real socket events and write()/end() calls, with a label', async (t) => {
    const timeline = new Timeline();
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.end('bye');
    });
    server.prependListener('connection', (socket) => timeline.watch(socket, 'server', ['end', 'close'], 'S'));
    const client = await connect(t, await listen(t, server));
    timeline.watch(client, 'client', ['data', 'end', 'close']);
    const reply = readAll(client);
    client.end();
    assert.equal((await reply).toString(), 'bye');
    await once(client, 'close');
    assert.deepEqual(timeline.names('client'), ['end()', 'data', 'end', 'close']);
    const serverRows = timeline.events.filter((e) => e.side === 'server');
    assert.deepEqual(serverRows.slice(0, 2).map((e) => [e.name, e.detail, e.sends]), [
      ['S write()', '"bye" 3 B', true],
      ['S end()', 'FIN', true],
    ]);
  });

  test('watch() records an event before the lesson\'s own listeners run', async (t) => {
    const timeline = new Timeline();
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.on('data', () => timeline.server('handler ran'));
      socket.on('end', () => socket.end());
    });
    server.on('connection', (socket) => timeline.watch(socket, 'server', ['data']));
    const client = await connect(t, await listen(t, server));
    const done = readAll(client);
    client.end('x');
    await done;
    assert.deepEqual(timeline.names('server'), ['data', 'handler ran', 'end()']);
  });

  test('live mode prints each event as it is recorded', () => {
    const lines: string[] = [];
    const timeline = new Timeline({ live: true, print: (line) => lines.push(line) });
    timeline.server('connection', 'from port 1234');
    timeline.add('server', 'write()', describe('hi'), true);
    assert.equal(lines.length, 2);
    assert.match(lines[0], /^\s+\d+\.\d {2}server {2}connection from port 1234$/);
    assert.match(lines[1], /server {2}write\(\) "hi" 2 B {2}──▶ client$/);
  });

  test("watch() still records writes after Node swaps socket.write at the peer's FIN", async (t) => {
    const timeline = new Timeline();
    // allowHalfOpen false (the default): after 'end', Node replaces socket.write.
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.on('end', () => socket.write('late'));
    });
    server.prependListener('connection', (socket) => timeline.watch(socket, 'server', ['end']));
    const client = await connect(t, await listen(t, server));
    const reply = readAll(client);
    client.end();
    assert.equal((await reply).toString(), 'late');
    assert.deepEqual(timeline.names('server'), ['end', 'write()', 'end()']);
  });
});

suite('ports.ts', () => {
  test('refusedPort() is below every ephemeral range, and a connect to it is refused', async () => {
    const port = await refusedPort();
    assert.ok(port >= 1024 && port < 10_000, `port ${port}`);
    // Where the ephemeral range is known, check it against the machine's own.
    if (process.platform === 'linux') {
      const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
      assert.ok(port < low, `port ${port} is inside the ephemeral range from ${low}`);
    }
    const client = net.connect(port, HOST);
    const [err] = (await once(client, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNREFUSED');
  });

  test('unboundUdpPort() is below the ephemeral range, and nothing is bound there', async () => {
    const port = await unboundUdpPort();
    assert.ok(port >= 1024 && port < 10_000, `port ${port}`);
    const socket = dgram.createSocket('udp4');
    socket.bind(port, HOST);
    await once(socket, 'listening');
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  });
});

suite('read.ts', () => {
  test("closed() resolves with hadError on 'close', and at once for a socket that has closed already", async (t) => {
    const server = net.createServer((socket) => socket.on('error', () => {}));
    const port = await listen(t, server);
    const clean = net.connect(port, HOST);
    const broken = net.connect(port, HOST);
    broken.on('error', () => {});
    await Promise.all([once(clean, 'connect'), once(broken, 'connect')]);
    const before = [closed(clean), closed(broken)]; // before 'close'
    clean.destroy();
    broken.destroy(new Error('broken on purpose'));
    assert.deepEqual(await Promise.all(before), [false, true]);
    // After 'close': a listener added now would wait for ever.
    assert.equal(await closed(clean), false);
    assert.equal(await closed(broken), true);
  });
});

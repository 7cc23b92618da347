// The shared flag parsing and listen-error messages every lesson relies on.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import test from 'node:test';
import { DEFAULT_HOST, LessonError, UsageError, isLoopback, listening, parseLessonArgs } from '../lessons/shared/cli.ts';
import { HOST, listen } from '../lessons/shared/testing.ts';

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

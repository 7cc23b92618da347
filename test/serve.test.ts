// `--serve` for every lesson: it binds 127.0.0.1 only, a real nc can talk to
// it, a client that resets cannot crash it, and Ctrl-C (SIGINT) or SIGTERM (to
// the process, or to its whole group as a terminal sends it) closes it
// cleanly, even in the middle of a transfer: the client gets a FIN, not a reset.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { describe, test, type TestContext } from 'node:test';
import { LESSONS } from '../lessons/catalog.ts';
import { HOST, connect } from '../lessons/shared/testing.ts';
import { has, run, start } from './processes.ts';

const LISTENING = /listening on (\S+):(\d+)\./;

async function serve(t: TestContext, id: string, extra: string[] = [], group = false) {
  const server = start(t, 'bin/lesson.ts', [id, '--serve', ...extra], {}, group);
  await server.waitFor(/Ctrl-C stops the server/); // the last line of the banner
  const [, host, port] = server.stdout.match(LISTENING) ?? [];
  return { server, host, port: Number(port) };
}

/** Ctrl-C: the process closes its server, prints so, and exits 0 by itself. */
async function interrupt(server: ReturnType<typeof start>): Promise<void> {
  server.child.kill('SIGINT');
  const { code, stdout, stderr } = await server.finished;
  assert.equal(code, 0, stderr);
  assert.match(stdout, /server closed/);
}

type Stop = 'SIGINT' | 'SIGTERM' | 'SIGTERM to the group';

/**
 * Stop the server with `how` while a client is sending and reading every
 * reply: the process prints its stopping line and exits 0, and the client gets
 * the server's FIN after the replies already on their way — never a reset.
 * The client speaks each lesson's protocol: lines for most, pipelined HTTP
 * requests for lesson 08's server on net, and one HTTPS request after another
 * for lesson 09 (Node's http server resets a client that floods it with
 * pipelined requests: that defence is not what this test is about).
 */
async function stopDuringTransfer(t: TestContext, server: ReturnType<typeof start>, port: number, how: Stop, slug: string): Promise<void> {
  const client =
    slug === 'tls'
      ? tls.connect({ port, host: HOST, servername: 'localhost', ca: readFileSync(/--cacert (\S+)/.exec(server.stdout)![1]) })
      : net.connect(port, HOST);
  t.after(() => client.destroy());
  const errors: string[] = [];
  client.on('error', (err: NodeJS.ErrnoException) => errors.push(err.code ?? err.message));
  let tail = ''; // the last bytes read (everything is read)
  const read = new Set<() => void>();
  client.setEncoding('latin1');
  client.on('data', (text: string) => {
    tail = (tail + text).slice(-1024);
    for (const wake of read) wake();
  });
  let gotEnd = false;
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve(void (gotEnd = true))));
  const closedClient = new Promise<void>((resolve) => client.once('close', () => resolve()));
  await once(client, slug === 'tls' ? 'secureConnect' : 'connect');
  const answered = (text: string) =>
    new Promise<void>((resolve) => {
      const wake = () => tail.includes(text) && (read.delete(wake), resolve());
      read.add(wake);
      wake();
    });
  const sending = (async () => {
    if (slug === 'tls') {
      for (let i = 0; !gotEnd && !client.destroyed; i += 1) {
        if (i === 20) signal(server, how);
        client.write(`GET /n${i} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
        await Promise.race([answered(`GET /n${i}\n`), ended]);
      }
      return;
    }
    const line = Buffer.from(slug === 'http' ? 'GET /hello HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(64) : 'x\n'.repeat(8192));
    let sent = 0;
    let stopping = false;
    while (!gotEnd && !client.destroyed && !client.writableEnded) {
      if (!stopping && sent >= 256 * 1024) {
        stopping = true;
        signal(server, how);
      }
      sent += line.length;
      if (!client.write(line)) await Promise.race([once(client, 'drain'), ended]);
      // A turn of the event loop after each write, so that this client reads while it writes:
      // write() keeps returning true while the server drops what it gets, and a loop that never
      // yields would never read the server's last answers and its FIN.
      else await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  await Promise.race([ended, closedClient]); // the server's FIN, or else the reason why not
  assert.deepEqual(errors, [], 'the client saw a FIN, not a reset');
  assert.ok(gotEnd, "the client got the server's FIN");
  await Promise.all([sending, closedClient]);
  const { code, stdout, stderr } = await server.finished;
  assert.equal(code, 0, stderr);
  assert.match(stdout, new RegExp(`stopping \\(${how.split(' ')[0]}\\)`));
  assert.match(stdout, /server closed/);
}

/** The signal that stops the server, sent the way `how` says. */
function signal(server: ReturnType<typeof start>, how: Stop): void {
  if (how === 'SIGTERM to the group') process.kill(-server.child.pid!, 'SIGTERM');
  else server.child.kill(how);
}

/**
 * A UDP lesson (07): it binds 127.0.0.1, a real `nc -u` gets a reply to its
 * datagram, and it stops cleanly on `how` while datagrams keep arriving.
 */
async function udpServe(t: TestContext, id: string, how: Stop): Promise<void> {
  const { server, host, port } = await serve(t, id, [], how === 'SIGTERM to the group');
  assert.equal(host, HOST);
  assert.match(server.stdout, new RegExp(`nc -u ${HOST} ${port}`));
  assert.match(server.stdout, new RegExp(`socat - UDP:${HOST}:${port}`));
  if (has('ss')) {
    const bound = spawnSync('ss', ['-lunH', `sport = :${port}`], { encoding: 'utf8' }).stdout;
    assert.match(bound, new RegExp(`\\s${HOST.replace(/\./g, '\\.')}:${port}\\s`), bound);
  }
  const client = dgram.createSocket('udp4');
  t.after(() => client.close());
  client.connect(port, HOST);
  await once(client, 'connect');
  if (has('nc')) {
    // A real nc: one line, one datagram; -W 1 ends it after the first reply.
    const nc = spawn('nc', ['-u', '-W', '1', '-w', '10', HOST, String(port)]);
    t.after(() => nc.kill('SIGKILL'));
    let reply = '';
    nc.stdout.setEncoding('utf8').on('data', (text: string) => (reply += text));
    nc.stdin.write('hello from nc\n');
    const [code] = (await once(nc, 'close')) as [number | null];
    assert.equal(code, 0, 'nc got its reply');
    assert.ok(reply.length > 0, 'a datagram came back');
  } else {
    t.diagnostic('nc (netcat) is not installed: sent with a Node client instead');
  }
  // Datagrams keep coming while the server stops: it still ends cleanly.
  client.send('hello\n');
  await once(client, 'message');
  const sending = setInterval(() => client.send('more\n', () => {}), 1);
  t.after(() => clearInterval(sending));
  client.on('error', () => {}); // the ICMP "port unreachable" once the server has closed
  signal(server, how);
  const { code, stdout, stderr } = await server.finished;
  clearInterval(sending);
  assert.equal(code, 0, stderr);
  assert.match(stdout, new RegExp(`stopping \\(${how.split(' ')[0]}\\)`));
  assert.match(stdout, /server closed/);
}

describe('--serve', { concurrency: true }, () => {
  const stops: Stop[] = ['SIGINT', 'SIGTERM', 'SIGTERM to the group'];
  LESSONS.forEach((lesson, index) => {
    const how = stops[index % stops.length];
    if (lesson.slug === 'udp') {
      test(`lesson ${lesson.id}: binds 127.0.0.1, answers nc -u, stops cleanly on ${how} while datagrams arrive`, (t) => udpServe(t, lesson.id, how));
      return;
    }
    // Every lesson is stopped during a transfer; the three ways take turns (the mechanism is shared).
    test(`lesson ${lesson.id}: binds 127.0.0.1, answers nc, survives a reset, stops cleanly on ${how} during a transfer`, async (t) => {
      const { server, host, port } = await serve(t, lesson.id, [], how === 'SIGTERM to the group');
      assert.equal(host, HOST);
      assert.match(server.stdout, new RegExp(`nc ${HOST} ${port}`));
      assert.match(server.stdout, new RegExp(`socat - ${lesson.slug === 'tls' ? 'OPENSSL' : 'TCP'}:${HOST}:${port}`));
      if (has('ss')) {
        const listeners = spawnSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).stdout;
        assert.match(listeners, new RegExp(`\\s${HOST.replace(/\./g, '\\.')}:${port}\\s`), listeners);
        assert.doesNotMatch(listeners, /\s(\*|0\.0\.0\.0|\[::\]):\d+\s/, listeners);
      }
      // A client that connects and resets must not take the server down.
      const rude = await connect(t, port);
      const rudePort = rude.localPort!;
      rude.resetAndDestroy();
      await once(rude, 'close');
      if (has('nc')) {
        // A real nc: it exits 0 only if it could connect; -N sends FIN at the end of its input.
        const nc = spawn('nc', ['-N', '-w', '10', HOST, String(port)]);
        t.after(() => nc.kill('SIGKILL'));
        nc.stdout.resume();
        nc.stdin.end('hello from nc\n');
        const [code] = (await once(nc, 'close')) as [number | null];
        assert.equal(code, 0, 'nc exits 0 when it could connect');
        // The server logged nc's connection live: a connection from a port other than the rude client's.
        await server.waitFor(new RegExp(`connection (?:TCP )?from (?:port |\\S+:)(?!${rudePort}\\b)\\d+`));
      } else {
        t.diagnostic('nc (netcat) is not installed: connected with a Node client instead');
        const polite = await connect(t, port);
        polite.resume(); // read until the server's FIN, or 'close' never comes
        polite.end();
        await once(polite, 'close');
      }
      await stopDuringTransfer(t, server, port, how, lesson.slug);
    });
  });
});

test('--serve ends open connections when stopped with Ctrl-C', async (t) => {
  const { server, port } = await serve(t, '01');
  const client = net.connect(port, HOST);
  t.after(() => client.destroy());
  client.resume();
  await once(client, 'connect');
  await server.waitFor(/connection/);
  const ended = once(client, 'end');
  server.child.kill('SIGINT');
  await ended; // the server sent its FIN
  client.end();
  await interrupt(server);
  assert.match(server.stdout, /stopping \(SIGINT\): closing the server and finishing 1 open connection/);
});

test('a port in use gives one line that suggests --port, and exit 1', async (t) => {
  const blocker = net.createServer();
  t.after(() => blocker.close());
  blocker.listen(0, HOST);
  await once(blocker, 'listening');
  const { port } = blocker.address() as net.AddressInfo;
  const { code, stdout, stderr } = await run(t, 'bin/lesson.ts', ['01', '--serve', '--port', String(port)]);
  assert.equal(code, 1);
  assert.equal(stdout, '');
  assert.equal(stderr.trim().split('\n').length, 1, stderr);
  assert.match(stderr, new RegExp(`port ${port} is already in use.*--port`));
});

test('--host other than loopback is allowed, with a warning', async (t) => {
  const { server } = await serve(t, '01', ['--host', '0.0.0.0']);
  assert.match(server.stderr, /warning: --host 0\.0\.0\.0 is not loopback/);
  await interrupt(server);
});

// The shared timeline: what it records from real sockets and how it draws it.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import test from 'node:test';
import { readAll } from '../lessons/shared/read.ts';
import { connect, listen } from '../lessons/shared/testing.ts';
import { Timeline, describe, width } from '../lessons/shared/timeline.ts';

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

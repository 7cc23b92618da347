import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import test from 'node:test';
import { readAll, readUntil } from '../shared/read.ts';
import { HOST, connect, listen, mustCall } from '../shared/testing.ts';
import { GREETING, MAX_LINE, createGreeter, reply } from './lesson.ts';

test('the function given to createServer is a listener of the server\'s connection event', async (t) => {
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
  const client = await connect(t, await listen(t, createGreeter()));
  await readUntil(client, (text) => text.includes(GREETING));
  const expected = reply('first') + reply('second') + reply('third');
  const answers = readUntil(client, (text) => text.length >= expected.length);
  client.write('fir');
  client.write('st\nsecond\r\nthi'); // telnet ends lines with \r\n
  client.write('rd\n');
  assert.equal(await answers, expected);
});

test('the greeter ends a connection whose line grows past MAX_LINE instead of buffering it', async (t) => {
  const client = await connect(t, await listen(t, createGreeter()));
  const all = readAll(client); // resolves on the server's FIN
  client.write('x'.repeat(MAX_LINE + 1));
  assert.match((await all).toString(), /line longer than 4096 characters/);
});

test('a client that resets does not crash the server, which keeps greeting others', async (t) => {
  const server = createGreeter();
  const port = await listen(t, server);
  const rude = await connect(t, port);
  await readUntil(rude, (text) => text.includes(GREETING));
  // RST instead of FIN. (On Node 20 a write() just before it turns the RST into a FIN.)
  rude.resetAndDestroy();
  await once(rude, 'close');
  const polite = await connect(t, port);
  assert.equal(await readUntil(polite, (text) => text.length >= GREETING.length), GREETING);
});

test('binary garbage is answered like any other line', async (t) => {
  const client = await connect(t, await listen(t, createGreeter()));
  await readUntil(client, (text) => text.includes(GREETING));
  const answer = readUntil(client, (text) => text.endsWith('\n'));
  client.write(Buffer.from([0x00, 0xff, 0xfe, 0x0a]));
  assert.match(await answer, /^you said: \u0000\ufffd\ufffd\n$/);
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

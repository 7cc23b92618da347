// The check for exercise 01: run it with `npm run check 01`.
import { defineCheck, show } from '../shared/check/index.ts';
import type * as Exercise from './exercise.ts';

// The check's own copy: changing GREETING in exercise.ts does not change what is expected.
const GREETING = 'Hello from the TCP workbook!\n';
const GREETING_BYTES = Buffer.byteLength(GREETING);

export default defineCheck<typeof Exercise>(async (c) => {
  const startGreeter = await c.exported('startGreeter');
  const server = await c.step('calling startGreeter()', () => c.serverFrom(startGreeter(), 'startGreeter()'));
  await c.step("waiting for your server to emit 'listening'", (s) => c.listening(server, s));
  const { port } = await c.step('checking where your server listens', () => c.expectLoopbackPort0(server));

  const client = await c.step('connecting to your server', () => c.connect(port, { name: 'the first client' }));
  const first = c.record(client);

  await c.step('waiting for the greeting', async (s) => {
    s.timeoutMessage = 'your server accepted the connection but did not send the whole greeting';
    s.expected = show(GREETING);
    s.actual = () => first.describe();
    await first.wait((r) => r.received >= GREETING_BYTES || r.gotEnd, 'the greeting');
    const got = first.bytes.subarray(0, GREETING_BYTES).toString('utf8');
    c.expectEqual(got, GREETING, got.length < GREETING.length ? 'your server ended the connection before the whole greeting' : 'your server sent something other than the greeting');
  });

  await c.step('waiting for your server to end() after the greeting', async (s) => {
    s.timeoutMessage = 'the greeting arrived, but your server never ended the connection: call socket.end() after writing (or socket.end(GREETING))';
    s.expected = `${show(GREETING)}, then a FIN`;
    s.actual = () => first.describe();
    await first.untilEnd();
    c.expectEqual(first.text, GREETING, 'your server sent more than the greeting before its FIN');
  });

  await c.step('greeting a second client', async (s) => {
    const second = c.record(await c.connect(port, { name: 'the second client' }));
    s.timeoutMessage = 'the second client did not get the greeting and a FIN: does your server greet every client, not just the first?';
    s.expected = `${show(GREETING)}, then a FIN`;
    s.actual = () => second.describe();
    await second.untilEnd();
    c.expectEqual(second.text, GREETING, 'the second client got something other than the greeting');
  });
});

// `npm run bench 04 [-- --mib <n> --rounds <n>]`: echo throughput and the server's
// peak buffered bytes for pipe(), the naive echo and pipeline(), in one run.
import { once } from 'node:events';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { UsageError, positiveInt } from '../shared/cli.ts';
import { MAX_MIB, createNaiveEcho, createPipeEcho, createPipelineEcho, fastSenderSlowReader, size } from './lesson.ts';

const MiB = 1024 * 1024;
const HOST = '127.0.0.1';

const ECHOES: [string, () => net.Server][] = [
  ['socket.pipe(socket)', createPipeEcho],
  ["on('data', d => write(d))", createNaiveEcho],
  ['pipeline(socket, socket)', () => createPipelineEcho()],
];

interface Row {
  rates: number[];
  peakReading: number;
  peakWaiting: number;
  highWaterMark: number;
}

async function withServer<T>(make: () => net.Server, run: (server: net.Server, port: number) => Promise<T>): Promise<T> {
  const server = make();
  server.listen(0, HOST);
  await once(server, 'listening');
  try {
    return await run(server, (server.address() as net.AddressInfo).port);
  } finally {
    server.close();
    await once(server, 'close');
  }
}

/** Largest writableLength of the next accepted socket, sampled after each 'data'. */
function peakOfNextConnection(server: net.Server): () => number {
  let peak = 0;
  server.once('connection', (socket: net.Socket) => {
    socket.on('data', () => (peak = Math.max(peak, socket.writableLength)));
  });
  return () => peak;
}

/**
 * Like roundTrip() in lesson.ts, but counts the echoed bytes instead of keeping
 * them, so the figure measures the echo, not the client's memory.
 */
async function echoAndCount(port: number, data: Buffer, piece = 64 * 1024): Promise<number> {
  const client = net.connect(port, HOST);
  let echoed = 0;
  client.on('data', (chunk: Buffer) => (echoed += chunk.length));
  const ended = once(client, 'end');
  const closed = once(client, 'close');
  await once(client, 'connect');
  for (let at = 0; at < data.length; at += piece) {
    if (!client.write(data.subarray(at, at + piece))) await once(client, 'drain');
  }
  client.end();
  await ended;
  await closed;
  return echoed;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export async function bench(argv: string[]): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: { mib: { type: 'string' }, rounds: { type: 'string' } }, strict: true }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0]}. Flags: --mib <n> (default 64, at most ${MAX_MIB}), --rounds <n> (default 5, at most 100)`);
  }
  const mib = positiveInt('mib', values.mib, 64, MAX_MIB);
  const rounds = positiveInt('rounds', values.rounds, 5, 100);
  const total = mib * MiB;
  const payload = Buffer.alloc(total, 0x2a);

  const rows = new Map<string, Row>(ECHOES.map(([name]) => [name, { rates: [], peakReading: 0, peakWaiting: 0, highWaterMark: 0 }]));
  // Round 0 warms up and is not counted; the echoes take turns so none always runs first.
  for (let round = 0; round <= rounds; round++) {
    for (const [name, make] of ECHOES) {
      const row = rows.get(name)!;
      await withServer(make, async (server, port) => {
        const peak = peakOfNextConnection(server);
        const start = performance.now();
        const echoed = await echoAndCount(port, payload);
        const seconds = (performance.now() - start) / 1000;
        if (echoed !== total) throw new Error(`${name} echoed ${echoed} of ${total} bytes`);
        if (round > 0) row.rates.push(total / 1e6 / seconds);
        row.peakReading = Math.max(row.peakReading, peak());
      });
    }
  }
  for (const [name, make] of ECHOES) {
    const row = rows.get(name)!;
    const report = await withServer(make, (server, port) => fastSenderSlowReader(server, port, HOST, total));
    row.peakWaiting = report.peak;
    row.highWaterMark = report.highWaterMark;
  }

  const hwm = rows.get(ECHOES[0][0])!.highWaterMark;
  console.log(`Echo of ${size(total)} over ${HOST}, median of ${rounds} round(s), Node ${process.version}, writableHighWaterMark ${size(hwm)}`);
  console.log('MB/s = payload bytes echoed per second (each byte crosses loopback twice).');
  console.log('Peak buffered = largest server socket.writableLength, with a client that reads while it');
  console.log('sends, and with one that reads nothing until the server stops reading or has read it all.\n');
  const header = ['echo'.padEnd(26), 'MB/s'.padStart(7), 'peak, client reads'.padStart(20), 'peak, client waits'.padStart(20)];
  console.log(header.join('  '));
  for (const [name] of ECHOES) {
    const row = rows.get(name)!;
    console.log([
      name.padEnd(26),
      median(row.rates).toFixed(0).padStart(7),
      size(row.peakReading).padStart(20),
      size(row.peakWaiting).padStart(20),
    ].join('  '));
  }
}

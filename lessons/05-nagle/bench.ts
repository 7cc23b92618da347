// `npm run bench 05 [-- --rounds <n>]`: the lesson's round-trip table with more
// rounds, each variant measured alone so no variant's work delays another's.
import { once } from 'node:events';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { DEFAULT_HOST, UsageError, positiveInt } from '../shared/cli.ts';
import { VARIANTS, createPongServer, formatTable, measureAll, segmentsUnavailable, type Measurement } from './lesson.ts';

export const BENCH_ROUNDS = 50;

export async function bench(argv: string[]): Promise<void> {
  let values: { rounds?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { rounds: { type: 'string' } }, strict: true }));
  } catch (err) {
    const flag = /'(-[^']*)'/.exec((err as Error).message)?.[1];
    throw new UsageError(`${flag ? `${flag}: ` : ''}npm run bench 05 takes one flag, --rounds <n> (default ${BENCH_ROUNDS})`);
  }
  const rounds = positiveInt('rounds', values.rounds, BENCH_ROUNDS, 10_000);

  const server = createPongServer();
  server.listen(0, DEFAULT_HOST);
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;

  const results: Measurement[] = [];
  try {
    for (const variant of Object.values(VARIANTS)) {
      results.push(...(await measureAll(port, DEFAULT_HOST, [variant], rounds)));
    }
  } finally {
    server.close();
    await once(server, 'close');
  }

  console.log(`Node ${process.version}, ${process.platform}, ${DEFAULT_HOST}: ${rounds} round trips per variant after 1 warm-up round.`);
  console.log('Each request is "ping <n>\\n"; the server answers once the whole line has arrived.\n');
  console.log(formatTable(results, rounds));
  const missing = await segmentsUnavailable();
  if (missing) console.log(`\nNo data segments (—): ${missing}.`);
}

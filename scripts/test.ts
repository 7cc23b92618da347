// `npm test`: every lessons/NN-*/lesson.test.ts and every test/*.test.ts, run by
// node:test through tsx. Node 20's --test does not find .ts files by itself, so
// we list them. Extra arguments go to node (e.g. --test-name-pattern=Nagle).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function testFiles(): string[] {
  const files: string[] = [];
  for (const dir of readdirSync(path.join(root, 'lessons')).filter((d) => /^\d\d-/.test(d)).sort()) {
    for (const file of readdirSync(path.join(root, 'lessons', dir)).sort()) {
      if (file.endsWith('.test.ts')) files.push(path.join('lessons', dir, file));
    }
  }
  for (const file of readdirSync(path.join(root, 'test')).sort()) {
    if (file.endsWith('.test.ts')) files.push(path.join('test', file));
  }
  return files;
}

/** The node arguments that run the suite; test-versions.ts reuses them. */
export function testArgs(extra: string[] = []): string[] {
  return ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=4', '--test-timeout=60000', ...extra, ...testFiles()];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = spawnSync(process.execPath, testArgs(process.argv.slice(2)), { cwd: root, stdio: 'inherit' });
  process.exitCode = result.status ?? 1;
}

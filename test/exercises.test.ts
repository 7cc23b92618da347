// The checks are checked. For every exercise: its starting file (stub) fails,
// an empty file fails, each known wrong answer fails at the step the catalog
// names, and the reference solution passes. Then the harness itself (timeouts,
// open-handle reports, explained errors, chunkings) and the commands, run as a
// learner runs them: check, hint, progress, next, reset and watch. Nothing
// here touches the real exercise files or the real progress file: the
// commands get a temporary WORKBOOK_LESSONS_DIR and WORKBOOK_PROGRESS.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { format, promisify } from 'node:util';
import { execFile } from 'node:child_process';

const execFileAsync = promisify(execFile);
import { LESSONS, folderName } from '../lessons/catalog.ts';
import { CheckFailure, CheckPool, HOST, Signal, chunkings, defineCheck, piecesOf, readBy, runCheck, runIsolated, seededRandom, splitRandomly, type CheckResult } from '../lessons/shared/check/index.ts';
import { refusedPort } from '../lessons/shared/testing.ts';
import {
  checkFile,
  exerciseLessons,
  readHints,
  repoFile,
  resolveExercise,
  solutionFile,
  stubFile,
  type ExerciseLesson,
} from '../scripts/lib/exercises.ts';
import { ROOT, assertOneLine, run, start } from './processes.ts';
import { main as check } from '../scripts/check.ts';
import { main as hint } from '../scripts/hint.ts';
import { main as next } from '../scripts/next.ts';
import { main as progress_ } from '../scripts/progress.ts';
import { main as reset } from '../scripts/reset.ts';
import { report } from '../scripts/lib/report.ts';

// Stubs and wrong answers that hang wait out a step timeout: half of it is plenty on loopback.
// An answer that loops for ever is stopped after 1 s of a held event loop instead of 2 s.
const FAST = { timeoutScale: 0.5, blockedMs: 1000 };
// A watch test waits for several processes in turn: on a loaded machine each can take seconds.
const SLOW = 60_000;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'workbook-exercises-'));
// Files in tmp are ES modules, like the workbook's own.
writeFileSync(path.join(tmp, 'package.json'), '{ "type": "module" }\n');
after(() => rmSync(tmp, { recursive: true, force: true }));

let fileCount = 0;
/** A learner file with this source, in the temporary folder. */
function learnerFile(source: string): string {
  fileCount += 1;
  const file = path.join(tmp, `answer-${fileCount}.ts`);
  writeFileSync(file, source);
  return file;
}

/** A fresh folder shaped like lessons/, holding copies of the given exercise files. */
function lessonsCopy(files: Record<string, string> = {}): { dir: string; progress: string } {
  fileCount += 1;
  const dir = path.join(tmp, `lessons-${fileCount}`);
  for (const lesson of exerciseLessons()) mkdirSync(path.join(dir, folderName(lesson)), { recursive: true });
  for (const [id, source] of Object.entries(files)) {
    const lesson = exerciseLessons().find((l) => l.id === id)!;
    writeFileSync(path.join(dir, folderName(lesson), 'exercise.ts'), source);
  }
  return { dir, progress: path.join(dir, 'progress.json') };
}

function stubOf(lesson: ExerciseLesson): string {
  return readFileSync(stubFile(lesson), 'utf8');
}

function failedAt(result: CheckResult): string {
  return result.failed ? `failed at "${result.failed.name}": ${result.failed.message}` : 'passed';
}

/** Nothing of the check's or the answer's is left open: no sockets, no servers. */
function assertNothingLeft(result: CheckResult): void {
  assert.deepEqual(
    result.leftOpen.filter((r) => r.startsWith('TCP')),
    [],
    `left open after the check: ${result.leftOpen.join(', ')}`,
  );
}

// ── the commands ──────────────────────────────────────────────────────────

const [first, second] = exerciseLessons();
/** Text for a RegExp, matched literally (exercise titles have ? and parentheses). */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
// Tests that quote a particular check's steps use exercise 01's.
const greeter = exerciseLessons().find((l) => l.slug === 'create-server')!;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run a command's main() in this process, with its output captured and the
 * given WORKBOOK_* overrides: like the real command, a thrown error becomes
 * one line on stderr and exit code 2 (usage) or 1.
 */
async function invoke(main: (argv: string[]) => number | Promise<number>, argv: string[], env: Record<string, string>): Promise<Outcome> {
  const saved = { log: console.log, error: console.error, env: { ...process.env } };
  const out = { code: 0, stdout: '', stderr: '' };
  console.log = (...args: unknown[]) => void (out.stdout += `${format(...args)}\n`);
  console.error = (...args: unknown[]) => void (out.stderr += `${format(...args)}\n`);
  Object.assign(process.env, env);
  try {
    out.code = await main(argv);
  } catch (err) {
    out.code = report(err, 'command');
  } finally {
    console.log = saved.log;
    console.error = saved.error;
    for (const key of Object.keys(env)) {
      if (saved.env[key] === undefined) delete process.env[key];
      else process.env[key] = saved.env[key];
    }
  }
  return out;
}

// Every exercise is proven side by side, through the same worker threads the
// commands use (a pool that reuses a worker while its checks leave nothing
// open). The harness's own tests run checks in this process, one at a time
// (the harness patches net.Server.prototype.listen while it runs); the
// commands run as child processes meanwhile.
const pool = new CheckPool(4);
after(() => pool.close());

function prove(lesson: ExerciseLesson, file: string, options = {}): Promise<CheckResult> {
  return pool.run(checkFile(lesson), file, options);
}

describe('exercises', { concurrency: true }, () => {
  describe('every exercise, proven', { concurrency: true }, () => {
    for (const lesson of exerciseLessons()) {
      describe(`exercise ${lesson.id} (${lesson.exercise.title})`, { concurrency: true }, () => {
        test('the starting file fails at a named step of the check, not at loading', async () => {
          const result = await prove(lesson, stubFile(lesson), FAST);
          assert.equal(result.ok, false, 'the stub passed');
          assert.ok(result.failed!.name !== 'loading your file' && result.failed!.name !== 'running the check', failedAt(result));
          assert.ok(result.failed!.message, 'a failure says why');
          assertNothingLeft(result);
        });

        test('an empty file fails at finding its export', async () => {
          const result = await prove(lesson, learnerFile(''));
          assert.equal(result.ok, false);
          assert.match(result.failed!.name, /^finding the export /, failedAt(result));
          assert.match(result.failed!.message!, /exports nothing/);
        });

        for (const [name, steps] of Object.entries(lesson.exercise.wrong)) {
          const [step, orStep] = typeof steps === 'string' ? [steps] : steps;
          test(`the wrong answer solution/${name} fails at "${step}"${orStep ? ` (or, on a stalled machine, at "${orStep}")` : ''}`, async () => {
            const result = await prove(lesson, repoFile(lesson, `solution/${name}`), FAST);
            assert.equal(result.ok, false, `solution/${name} passed`);
            if (result.failed!.name !== orStep) assert.equal(result.failed!.name, step, failedAt(result));
            assertNothingLeft(result);
          });
        }

        test('the reference solution passes every step, and nothing is reported left open', async () => {
          const result = await prove(lesson, solutionFile(lesson));
          assert.equal(result.ok, true, failedAt(result));
          assert.ok(result.steps.filter((s) => s.status === 'passed').length >= 4, 'a check of a few steps at least');
          // A correct answer leaves nothing open: a handle of the check's own must not be blamed on it.
          assert.deepEqual(result.leftOpen, [], `reported as left open by a correct answer: ${result.leftOpen.join(', ')}`);
        });

        test('the starting file and the reference export the same names', async () => {
          const stub = await import(pathToFileURL(stubFile(lesson)).href);
          const reference = await import(pathToFileURL(solutionFile(lesson)).href);
          assert.deepEqual(Object.keys(stub).sort(), Object.keys(reference).sort());
        });

        test('the hints never quote a line of the reference solution', () => {
          const hints = readFileSync(repoFile(lesson, 'hints.md'), 'utf8');
          const code = readFileSync(solutionFile(lesson), 'utf8')
            .split('\n')
            .map((l) => l.trim())
            .filter((l) => l.length > 20 && !l.startsWith('//') && !l.startsWith('import ') && !l.startsWith('export '));
          for (const line of code) assert.ok(!hints.includes(line), `hints.md quotes the solution: ${line}`);
        });
      });
    }

  });

  // Learner code runs in a worker thread that the command can stop. These checks
  // are written here (not an exercise's), so that they test the harness alone.
  describe('learner code cannot hang, end or fool a check', { concurrency: true }, () => {
    const harness = pathToFileURL(path.join(ROOT, 'lessons', 'shared', 'check', 'index.ts')).href;
    /** A check file in the temporary folder, with this body. */
    const checkWith = (body: string) => learnerFile(`import { defineCheck } from '${harness}';\nexport default defineCheck(async (c: any) => {\n${body}\n});\n`);
    // A server that must send "hello\n" and end, and a class whose push() is called.
    const serverCheck = checkWith(`
      const start = await c.exported('start');
      const server = await c.step('calling start()', () => c.serverFrom(start(), 'start()'));
      const { port } = await c.step('listening', (s: any) => c.listening(server, s));
      const client = await c.step('connecting', () => c.connect(port));
      const rx = c.record(client, { maxBytes: 6, from: 'your server' });
      await c.step('waiting for hello', async () => {
        await rx.untilEnd();
        c.expectEqual(rx.text, 'hello\\n', 'not hello');
      });`);
    const classCheck = checkWith(`
      const Splitter = await c.exported('Splitter');
      await c.step('pushing a line', () => new Splitter().push(Buffer.from('one\\ntwo')));`);
    const server = (handler: string, top = '') => learnerFile(`import net from 'node:net';\n${top}\nexport function start() {\n  const server = net.createServer((socket) => {\n    socket.on('error', () => {});\n    ${handler}\n  });\n  server.listen(0, '127.0.0.1');\n  return server;\n}\n`);
    // The production limits are 2 s, and 5 s while loading: shorter ones keep the loop tests cheap
    // (a loop burns a core until it is stopped). The other tests keep the production limits.
    const quick = { blockedMs: 250, blockedLoadingMs: 400 };

    test('the harness checks below pass a correct answer', async () => {
      const result = await runIsolated(serverCheck, server("socket.end('hello\\n');"));
      assert.equal(result.ok, true, failedAt(result));
    });

    test('a failed check closes every socket the answer opened, also one made with new net.Socket() that ignores the FIN', async () => {
      const halfOpenClient = learnerFile(`import net from 'node:net';
export function start() {
  const server = net.createServer((socket) => socket.on('error', () => {}));
  server.listen(0, '127.0.0.1', () => {
    // Not net.connect(): on Node 20 this kind of socket is published on no diagnostics channel.
    const client = new net.Socket({ allowHalfOpen: true });
    client.on('error', () => {});
    client.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  });
  return server;
}
`);
      const check = checkWith(`
      const { once } = await import('node:events');
      const start = await c.exported('start');
      const server = await c.step('calling start()', () => c.serverFrom(start(), 'start()'));
      const accepted = once(server, 'connection');
      await c.step('listening', (s: any) => c.listening(server, s));
      await c.step('waiting for its client', () => accepted);
      await c.step('failing on purpose', () => c.expectEqual('wrong', 'right', 'a failure, so the check cleans up after it'));`);
      const result = await runIsolated(check, halfOpenClient);
      assert.equal(result.failed?.name, 'failing on purpose', failedAt(result));
      assertNothingLeft(result);
    });
    const loops: [string, string, string, RegExp][] = [
      ['at the top level of the file', serverCheck, server("socket.end('hello\\n');", 'let n = 0;\nwhile (n >= 0) n = (n + 1) % 7;'), /^loading your file$/],
      ['in a connection handler', serverCheck, server('for (;;) {}'), /^(connecting|waiting for hello)$/],
      ['in push()', classCheck, learnerFile("export class Splitter {\n  pending = '';\n  push(chunk: Buffer): string[] {\n    this.pending += chunk.toString();\n    const lines: string[] = [];\n    while (this.pending.indexOf('\\n')) lines.push('x');\n    return lines;\n  }\n}\n"), /^pushing a line$/],
    ];
    for (const [where, checkFile_, file, step] of loops) {
      test(`an endless loop ${where} ends the check, naming the step and the likely cause`, async () => {
        const began = performance.now();
        const result = await runIsolated(checkFile_, file, quick);
        assert.equal(result.ok, false);
        assert.match(result.failed!.name, step, failedAt(result));
        assert.match(result.failed!.message!, /(did not give control back|held the event loop) for \d+\.\d s \(an endless loop\?\)/);
        // Five times the limit at most, for a loop that an overloaded machine hardly lets run.
        assert.ok(performance.now() - began < 30_000, 'stopped soon after the limit');
      });
    }

    test('an answer runs in strict mode, as an ES module does, also from outside the repo', async () => {
      const strictCheck = checkWith(`
      const mode = await c.exported('mode');
      await c.step('strict', () => c.expectEqual(mode(), 'strict', 'not in strict mode'));`);
      const answer = learnerFile("export function mode() {\n  return (function (this: unknown) { return this === undefined ? 'strict' : 'sloppy'; })();\n}\n");
      const result = await runIsolated(strictCheck, answer);
      assert.equal(result.ok, true, failedAt(result));
    });

    test('process.exit() at import or in a handler is a failure with one line, never a pass', async () => {
      const atImport = await runIsolated(serverCheck, server("socket.end('hello\\n');", 'process.exit(0);'));
      assert.equal(atImport.ok, false);
      assert.equal(atImport.failed!.name, 'loading your file');
      assert.match(atImport.failed!.message!, /^your code called process\.exit\(0\) \(at answer-\d+\.ts:2:\d+\): the check cannot finish once the process ends — remove that call$/);
      const inHandler = await runIsolated(serverCheck, server('process.exit(0);'));
      assert.equal(inHandler.ok, false);
      assert.match(inHandler.failed!.message!, /^your code called process\.exit\(0\) \(at answer-\d+\.ts:6:\d+\)/);
    });

    test('running out of memory is a failure with one line', async () => {
      const hog = server('const all: number[][] = [];\n    for (;;) all.push(new Array(100_000).fill(Math.random()));');
      const result = await runIsolated(serverCheck, hog, { memoryMb: 32 });
      assert.equal(result.ok, false);
      assert.match(result.failed!.message!, /^your code ran out of memory \(the check allows 32 MB of JavaScript heap\)/);
    });

    test('an answer that sends 1 GiB: the check stops reading past what it needs and says so, in bounded memory', async (t) => {
      // The same 1 MiB buffer written 1024 times: 1 GiB on the wire, 1 MiB in the answer's memory.
      const flood = server('const mib = Buffer.alloc(1024 * 1024, 120);\n    for (let i = 0; i < 1024; i += 1) socket.write(mib);\n    socket.end();');
      // In a process of its own, as npm run check runs it: its peak memory is the check's alone.
      const isolated = pathToFileURL(path.join(ROOT, 'lessons', 'shared', 'check', 'isolated.ts')).href;
      const script = learnerFile(`import { runIsolated } from '${isolated}';
const result = await runIsolated(${JSON.stringify(serverCheck)}, ${JSON.stringify(flood)});
console.log(JSON.stringify({ failed: result.failed, maxRssMb: process.resourceUsage().maxRSS / 1024 }));\n`);
      const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT });
      const { failed, maxRssMb } = JSON.parse(stdout) as { failed: { name: string; message: string }; maxRssMb: number };
      assert.equal(failed.name, 'waiting for hello', failed.message);
      assert.match(failed.message, /^your server sent \d+ bytes where 6 were expected: the check stopped reading there$/);
      t.diagnostic(`the check's process peaked at ${maxRssMb.toFixed(0)} MB`);
      assert.ok(maxRssMb < 300, `the check's process peaked at ${maxRssMb.toFixed(0)} MB`);
    });
  });

  describe('in this process, one check at a time', { concurrency: false }, () => {
    // ── every exercise ────────────────────────────────────────────────────────

    test('every exercise has its files, and a wrong.ts among its known wrong answers', () => {
      assert.ok(exerciseLessons().length > 0);
      for (const lesson of exerciseLessons()) {
        for (const name of ['exercise.ts', 'exercise.check.ts', 'hints.md', 'solution/exercise.ts', 'solution/stub.ts', 'solution/wrong.ts']) {
          assert.ok(existsSync(repoFile(lesson, name)), `${folderName(lesson)}/${name} is missing`);
        }
        assert.ok('wrong.ts' in lesson.exercise.wrong, `${lesson.id}: the catalog names no step for solution/wrong.ts`);
        for (const name of Object.keys(lesson.exercise.wrong)) {
          assert.ok(existsSync(repoFile(lesson, `solution/${name}`)), `${folderName(lesson)}/solution/${name} is missing`);
        }
        assert.ok(readHints(lesson).length >= 2, `${lesson.id}: hints.md needs at least two "## " hints`);
      }
    });

    test('a lesson folder with an exercise.ts has its exercise in the catalog', () => {
      for (const lesson of LESSONS) {
        if (existsSync(path.join(ROOT, 'lessons', folderName(lesson), 'exercise.ts'))) {
          assert.ok(lesson.exercise, `${folderName(lesson)} has exercise.ts but no exercise in lessons/catalog.ts`);
        }
      }
    });

    test('the committed exercise.ts of every exercise is its starting file', { skip: !process.env.CI && 'only in CI: your own exercise.ts is yours to change' }, () => {
      for (const lesson of exerciseLessons()) {
        assert.equal(readFileSync(repoFile(lesson, 'exercise.ts'), 'utf8'), stubOf(lesson), `${folderName(lesson)}/exercise.ts differs from solution/stub.ts`);
      }
    });

    // ── the harness ───────────────────────────────────────────────────────────

    describe('the check harness', () => {
      test('a step that times out says what it waited for and lists what was open, then closes it all', async () => {
        // A server that accepts and never answers.
        const file = learnerFile(`import net from 'node:net';
    export function start() { const s = net.createServer(() => {}); s.listen(0, '127.0.0.1'); return s; }`);
        const check = defineCheck<{ start(): net.Server }>(async (c) => {
          const start = await c.exported('start');
          const server = await c.step('starting', () => c.serverFrom(start(), 'start()'));
          const { port } = await c.step('listening', (s) => c.listening(server, s));
          const rx = c.record(await c.connect(port));
          await c.step('waiting for a reply', async (s) => {
            s.timeoutMessage = 'no reply';
            s.expected = '"hello"';
            s.actual = () => rx.describe();
            await rx.untilText((text) => text === 'hello');
          }, { timeout: 300 });
        });
        const began = performance.now();
        const result = await runCheck(check, file);
        // A backstop for an overloaded machine; timedOutAfter below shows that the step's own 300 ms ended it.
        assert.ok(performance.now() - began < 8000, 'ends soon after the step timeout');
        const failed = result.failed!;
        assert.equal(failed.name, 'waiting for a reply');
        assert.equal(failed.timedOutAfter, 300);
        assert.equal(failed.message, 'no reply');
        assert.equal(failed.expected, '"hello"');
        assert.equal(failed.actual, 'nothing received (0 B), no FIN');
        assert.ok(failed.open!.some((line) => /^your server, listening on 127\.0\.0\.1:\d+, 1 open connection$/.test(line)), failed.open!.join('\n'));
        assert.ok(failed.open!.some((line) => /^handles: .*TCPServerWrap ×1/.test(line)), failed.open!.join('\n'));
        assertNothingLeft(result);
      });

      test('a refused connection is explained, never a bare ECONNREFUSED', async () => {
        const port = await refusedPort();
        const check = defineCheck(async (c) => {
          await c.step('connecting', () => c.connect(port));
        });
        const result = await runCheck(check, learnerFile('export {};'));
        assert.equal(
          result.failed!.message,
          `nothing is listening on 127.0.0.1:${port} — did your server call listen()? Is it still open (did something call close())?`,
        );
      });

      test('a server on a fixed port is named as the cause', async () => {
        const port = await refusedPort();
        const file = learnerFile(`import net from 'node:net';
    export function start() { const s = net.createServer(); s.listen(${port}, '127.0.0.1'); return s; }`);
        const check = defineCheck<{ start(): net.Server }>(async (c) => {
          const start = await c.exported('start');
          const server = await c.step('starting', () => c.serverFrom(start(), 'start()'));
          await c.step('listening', (s) => c.listening(server, s));
          await c.step('where', () => c.expectLoopbackPort0(server));
        });
        const result = await runCheck(check, file);
        assert.equal(result.failed?.name, 'where');
        assert.match(result.failed!.message!, new RegExp(`asked for port ${port}; expected port 0`));
        assertNothingLeft(result);
      });

      test('a server that never calls listen() fails at once, saying so', async () => {
        const file = learnerFile(`import net from 'node:net';
    export function start() { return net.createServer(); }`);
        const check = defineCheck<{ start(): net.Server }>(async (c) => {
          const start = await c.exported('start');
          const server = await c.step('starting', () => c.serverFrom(start(), 'start()'));
          await c.step('listening', (s) => c.listening(server, s));
        });
        const result = await runCheck(check, file);
        assert.equal(result.failed?.timedOutAfter, undefined, 'no need to wait for a timeout');
        assert.match(result.failed!.message!, /listen\(\) was never called/);
      });

      test("the learner's code throwing, now or later, is one line naming the place in their file", async () => {
        const file = learnerFile(`export function now() {
      throw new RangeError('too big');
    }
    export function later() {
      setImmediate(() => { throw new TypeError('oops'); });
    }`);
        const name = path.basename(file);
        const check = defineCheck<{ now(): void; later(): void }>(async (c) => {
          const now = await c.exported('now');
          await c.step('calling now()', () => now());
        });
        const result = await runCheck(check, file);
        assert.match(result.failed!.message!, new RegExp(`^your code threw RangeError: too big \\(at ${name}:2:\\d+\\)$`));

        const laterCheck = defineCheck<{ later(): void }>(async (c) => {
          const later = await c.exported('later');
          await c.step('calling later()', () => later());
          await c.step('waiting', () => new Promise(() => {}));
        });
        const second = await runCheck(laterCheck, file);
        assert.equal(second.failed!.name, 'waiting');
        assert.match(second.failed!.message!, new RegExp(`^your code threw TypeError: oops \\(at ${name}:5:`));
      });

      test('a file that does not compile or throws while loading fails at loading, in one line', async () => {
        const check = defineCheck(async () => {});
        const broken = await runCheck(check, learnerFile('export function f( {\n'));
        assert.equal(broken.failed!.name, 'loading your file');
        assert.match(broken.failed!.message!, /^answer-\d+\.ts does not compile: line 2, column 1: /);
        assert.doesNotMatch(broken.failed!.message!, /\n/);

        const throwing = await runCheck(check, learnerFile("throw new Error('at load');\n"));
        assert.match(throwing.failed!.message!, /^answer-\d+\.ts threw while loading: Error: at load \(at answer-\d+\.ts:1:7\)$/);

        const missing = await runCheck(check, path.join(tmp, 'nowhere.ts'));
        assert.match(missing.failed!.message!, /^there is no file at /);
      });

      test('a step can be skipped with a reason, and the check still passes', async () => {
        const check = defineCheck(async (c) => {
          await c.step('measured', (s) => s.skip('this platform does not show the effect'));
          await c.step('never run', () => assert.fail('ran'), { skip: 'not on this platform' });
          await c.step('after', () => {});
        });
        const result = await runCheck(check, learnerFile('export {};'));
        assert.equal(result.ok, true);
        assert.deepEqual(
          result.steps.map((s) => [s.name, s.status, s.message]),
          [
            ['loading your file', 'passed', undefined],
            ['measured', 'skipped', 'this platform does not show the effect'],
            ['never run', 'skipped', 'not on this platform'],
            ['after', 'passed', undefined],
          ],
        );
      });

      test('a failure shows expected and actual; the first failed step ends the check', async () => {
        const check = defineCheck(async (c) => {
          await c.step('comparing', () => c.expectEqual('hi\n', 'hello\n', 'wrong greeting'));
          await c.step('not reached', () => {});
        });
        const result = await runCheck(check, learnerFile('export {};'));
        assert.deepEqual(
          { name: result.failed!.name, message: result.failed!.message, expected: result.failed!.expected, actual: result.failed!.actual },
          { name: 'comparing', message: 'wrong greeting', expected: '"hello\\n"', actual: '"hi\\n"' },
        );
        assert.equal(result.steps.at(-1)!.name, 'comparing');
      });

      test('the overall deadline stops a check that waits outside its steps', async () => {
        const check = defineCheck(async () => {
          await new Promise(() => {});
        });
        const result = await runCheck(check, learnerFile('export {};'), { deadline: 200 });
        assert.equal(result.failed!.name, 'running the check');
        assert.match(result.failed!.message!, /did not finish within 200 ms/);
      });

      test('a recorder fails at once when the connection closes before what it waits for', async () => {
        const file = learnerFile(`import net from 'node:net';
    export function start() { const s = net.createServer((c) => c.end('bye')); s.listen(0, '127.0.0.1'); return s; }`);
        const check = defineCheck<{ start(): net.Server }>(async (c) => {
          const start = await c.exported('start');
          const server = await c.step('starting', () => c.serverFrom(start(), 'start()'));
          const { port } = await c.step('listening', (s) => c.listening(server, s));
          const rx = c.record(await c.connect(port));
          await c.step('waiting for hello', () => rx.untilText((t) => t.includes('hello'), 'hello'));
        });
        const result = await runCheck(check, file);
        assert.equal(result.failed!.timedOutAfter, undefined);
        assert.equal(result.failed!.message, 'the connection closed before hello arrived');
        assert.equal(result.failed!.actual, 'received "bye" (3 B), then a FIN');
      });

      test('a Signal re-checks its condition on notify() and passes on a failure', async () => {
        const signal = new Signal();
        let n = 0;
        const reached = signal.until(() => n >= 2);
        n = 2;
        signal.notify();
        await reached;
        const failing = signal.until(() => {
          throw new CheckFailure('nope');
        });
        await assert.rejects(failing, /nope/);
      });

      test('chunkings cut the same bytes every way and each reassembles to them', () => {
        const messages = ['héllo\n', 'wörld 🌍\n'];
        const whole = Buffer.from(messages.join(''));
        const cuts = chunkings(messages, { randomSplits: 3, seed: 7 });
        assert.deepEqual(cuts.map((c) => c.name), [
          'one piece per message',
          'all messages merged into one piece',
          '1-byte pieces',
          'random split (seed 7)',
          'random split (seed 8)',
          'random split (seed 9)',
        ]);
        for (const cut of cuts) assert.ok(Buffer.concat(cut.pieces).equals(whole), cut.name);
        assert.equal(cuts[2].pieces.length, whole.length);
        assert.ok(cuts[2].pieces.every((p) => p.length === 1));
        // The same seed cuts the same way; another seed cuts differently.
        const a = splitRandomly(whole, seededRandom(3)).map((p) => p.length);
        assert.deepEqual(a, splitRandomly(whole, seededRandom(3)).map((p) => p.length));
        assert.notDeepEqual(a, splitRandomly(whole, seededRandom(4)).map((p) => p.length));
      });

      test('piecesOf() picks a chunking by its name, and names the one it cannot find', () => {
        const cuts = chunkings(['ab\n', 'c\n']);
        assert.deepEqual(piecesOf(cuts, '1-byte pieces').map(String), ['a', 'b', '\n', 'c', '\n']);
        assert.throws(() => piecesOf(cuts, '2-byte pieces'), /no "2-byte pieces"/);
      });

      test("clientAt() finds the learner's client socket, also one from new net.Socket().connect(); readBy() waits until it has read the bytes", async () => {
        const file = learnerFile(`import net from 'node:net';
    export function dial(port: number): net.Socket { const s = new net.Socket(); s.on('error', () => {}); s.resume(); s.connect(port, '127.0.0.1'); return s; }`);
        const size = 1024 * 1024;
        let read = -1;
        const check = defineCheck<{ dial(port: number): net.Socket }>(async (c) => {
          const dial = await c.exported('dial');
          const server = c.name(net.createServer(), "the check's server");
          const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
          server.listen(0, HOST);
          const { port } = await c.listening(server);
          const learner = dial(port);
          const peer = await accepted;
          peer.on('error', () => {});
          await c.step('finding the socket', () => assert.equal(c.clientAt(peer.remotePort), learner));
          peer.write(Buffer.alloc(size));
          await readBy(() => c.clientAt(peer.remotePort), peer, size, () => false);
          read = learner.bytesRead;
          learner.destroy();
          peer.destroy();
        });
        const result = await runCheck(check, file);
        assert.equal(result.ok, true, failedAt(result));
        assert.equal(read, size);
      });
    });

    describe('the commands, in this process', () => {
      test('check: a pass of your own file is recorded; progress and next move on; check without an id takes the current one', async () => {
        const { dir, progress } = lessonsCopy({
          [first.id]: readFileSync(solutionFile(first), 'utf8'),
          [second.id]: stubOf(second),
        });
        const env = { WORKBOOK_LESSONS_DIR: dir, WORKBOOK_PROGRESS: progress, WORKBOOK_TYPECHECK: 'off' };
        const passed = await invoke(check, [], env);
        assert.equal(passed.code, 0, passed.stdout + passed.stderr);
        assert.match(passed.stdout, new RegExp(`Checking ${first.id} · `));
        assert.match(passed.stdout, /Recorded in .*progress\.json \[#+-*\] 1\/\d+/);
        assert.match(passed.stdout, new RegExp(`reference solution: lessons/${folderName(first)}/solution/exercise\\.ts`));
        assert.ok(JSON.parse(readFileSync(progress, 'utf8')).done[first.slug], 'recorded as done');

        const shownProgress = await invoke(progress_, [], env);
        assert.equal(shownProgress.code, 0, shownProgress.stderr);
        assert.match(shownProgress.stdout, /Progress \[#+-+\] 1\/\d+ exercises done/);
        assert.match(shownProgress.stdout, new RegExp(`✓\\s+${first.id}\\s+${literal(first.title)}`));
        assert.match(shownProgress.stdout, new RegExp(`·\\s+${second.id}\\s+${literal(second.title)}\\s+${literal(second.exercise.title)}\\s+← next`));
        const noExercise = LESSONS.find((l) => !l.exercise);
        if (noExercise) assert.match(shownProgress.stdout, new RegExp(`-\\s+${noExercise.id}\\s+.*\\(no exercise yet\\)`));

        const next_ = await invoke(next, [], env);
        assert.equal(next_.code, 0, next_.stderr);
        assert.match(next_.stdout, new RegExp(`Next: ${second.id} · ${literal(second.exercise.title)}`));
        assert.match(next_.stdout, new RegExp(`read\\s+lessons/${folderName(second)}/README\\.md`));
        assert.match(next_.stdout, new RegExp(`run\\s+npm run lesson ${second.id}`));
        assert.match(next_.stdout, new RegExp(`edit\\s+.*${folderName(second)}/exercise\\.ts`));
        assert.match(next_.stdout, new RegExp(`check\\s+npm run check ${second.id}`));

        // The current exercise is now the second one; its stub fails, and the reference is not shown.
        const current = await invoke(check, [], env);
        assert.equal(current.code, 1);
        assert.match(current.stdout, new RegExp(`Checking ${second.id} · `));
        assert.doesNotMatch(current.stdout, /solution/);
        // A failing re-check of a passed exercise keeps the pass, and says so.
        const passedAt = JSON.parse(readFileSync(progress, 'utf8')).done[first.slug];
        writeFileSync(path.join(dir, folderName(first), 'exercise.ts'), '');
        const failing = await invoke(check, [first.id], env);
        assert.equal(failing.code, 1);
        assert.match(failing.stdout, new RegExp(`Your earlier pass of ${first.id} \\(\\d{4}-\\d\\d-\\d\\d\\) still stands; the file as it is now does not pass`));
        assert.match(failing.stdout, new RegExp(`npm run progress -- --forget ${first.id}`));
        assert.equal(JSON.parse(readFileSync(progress, 'utf8')).done[first.slug], passedAt, 'the pass is kept');
        // An explicit command forgets it.
        const forgot = await invoke(progress_, ['--forget', first.id], env);
        assert.equal(forgot.code, 0, forgot.stderr);
        assert.match(forgot.stdout, new RegExp(`Forgot the pass of ${first.id} · `));
        assert.deepEqual(JSON.parse(readFileSync(progress, 'utf8')).done, {});
      });

      test('check on the starting file exits 1 naming the failed step, shows no solution, records nothing', async () => {
        const { dir, progress } = lessonsCopy({ [greeter.id]: stubOf(greeter) });
        const env = { WORKBOOK_LESSONS_DIR: dir, WORKBOOK_PROGRESS: progress, WORKBOOK_TYPECHECK: 'off' };
        const { code, stdout, stderr } = await invoke(check, [greeter.id], env);
        assert.equal(code, 1, stderr);
        assert.match(stdout, /✗ waiting for your server to emit 'listening'\n\s+your server is not listening: listen\(\) was never called/);
        assert.match(stdout, /Not yet: stopped at "waiting for your server to emit 'listening'"/);
        assert.match(stdout, new RegExp(`Stuck\\? npm run hint ${greeter.id}`));
        assert.doesNotMatch(stdout, /solution/, 'the reference is not shown before a pass');
        assert.equal(existsSync(progress), false);
      });

      test('check -- --file on the reference exits 0, names the reference and the next exercise, records nothing', async () => {
        const { dir, progress } = lessonsCopy();
        const env = { WORKBOOK_LESSONS_DIR: dir, WORKBOOK_PROGRESS: progress, WORKBOOK_TYPECHECK: 'off' };
        const { code, stdout, stderr } = await invoke(check, [first.id, '--file', path.relative(ROOT, solutionFile(first))], env);
        assert.equal(code, 0, stderr);
        assert.match(stdout, new RegExp(`✓ Passed: ${first.id} · ${literal(first.exercise.title)}\\.`));
        assert.match(stdout, new RegExp(`reference solution: lessons/${folderName(first)}/solution/exercise\\.ts`));
        assert.match(stdout, new RegExp(`Next: ${second.id} · ${literal(second.exercise.title)}`));
        assert.equal(existsSync(progress), false);
      });

      test('check: unknown exercise, lesson without exercise and bad flags exit 2 with one line', async () => {
        const env = { WORKBOOK_PROGRESS: path.join(tmp, 'unused.json') };
        const noExercise = LESSONS.find((l) => !l.exercise);
        const cases: [string[], RegExp][] = [
          [['99'], new RegExp(`no lesson "99": exercises exist for ${first.id} \\(${first.slug}\\)`)],
          [['01', '--bogus'], /unknown flag --bogus — usage: npm run check/],
          [['01', '--file'], /--file needs a value/],
          [['01', '02'], /unexpected argument 02/],
          ...(noExercise ? [[[noExercise.id], new RegExp(`has no exercise yet: exercises exist for ${first.id}`)] as [string[], RegExp]] : []),
        ];
        for (const [argv, pattern] of cases) {
          const { code, stdout, stderr } = await invoke(check, argv, env);
          assert.equal(code, 2, `${argv.join(' ')}: ${stdout}${stderr}`);
          assertOneLine(stderr);
          assert.match(stderr, pattern);
        }
        for (const [main, argv] of [[progress_, ['x']], [next, ['--x']], [hint, ['01', '--bogus']]] as const) {
          const { code, stderr } = await invoke(main, [...argv], env);
          assert.equal(code, 2);
          assertOneLine(stderr);
        }
        assert.equal(existsSync(env.WORKBOOK_PROGRESS), false);
      });

      test('a check lists the type errors of the file it checked, failed or passed, own file or --file (tsx runs files without type-checking)', async () => {
        const { dir, progress } = lessonsCopy({ [first.id]: "export const n: number = 'one';\nexport function f(): string {\n  return GRETING;\n}\n" });
        const env = { WORKBOOK_LESSONS_DIR: dir, WORKBOOK_PROGRESS: progress };
        const own = await invoke(check, [first.id], env);
        assert.equal(own.code, 1);
        assert.match(own.stdout, /TypeScript also finds 2 type errors in \S+exercise\.ts \(tsx runs it without type-checking\):\n {4}exercise\.ts:1:14 Type 'string' is not assignable to type 'number'\.\n {4}exercise\.ts:3:10 Cannot find name 'GRETING'\.\n/);
        // A passing answer with a type error: a pass, with a note.
        const reference = readFileSync(solutionFile(first), 'utf8');
        const typo = learnerFile(`${reference}\nexport const unused: number = 'not a number';\n`);
        const passed = await invoke(check, [first.id, '--file', typo], env);
        assert.equal(passed.code, 0, passed.stdout);
        assert.match(passed.stdout, /✓ Passed:[^]*it passed, but TypeScript finds a type error in \S+answer-\d+\.ts[^]*answer-\d+\.ts:\d+:\d+ Type 'string' is not assignable to type 'number'/);
        // (That starting files and references have no type errors is npm run typecheck's job.)
      });

      test('only the command records progress: an answer that writes or deletes the progress file changes nothing', async () => {
        const allDone = JSON.stringify({ version: 1, done: Object.fromEntries(exerciseLessons().map((l) => [l.slug, '2030-01-01T00:00:00.000Z'])), hints: {} });
        const tamper = `import { rmSync, writeFileSync } from 'node:fs';\nwriteFileSync(process.env.WORKBOOK_PROGRESS!, ${JSON.stringify(allDone)});\nprocess.on('exit', () => rmSync(process.env.WORKBOOK_PROGRESS!, { force: true }));\n`;
        const reference = readFileSync(solutionFile(first), 'utf8');
        const { dir, progress } = lessonsCopy({ [first.id]: `${tamper}export function nothing() {}\n` });
        const env = { WORKBOOK_LESSONS_DIR: dir, WORKBOOK_PROGRESS: progress, WORKBOOK_TYPECHECK: 'off' };
        const original = `${JSON.stringify({ version: 1, done: { [second.slug]: '2026-01-02T00:00:00.000Z' }, hints: { [second.slug]: 1 } }, null, 2)}\n`;
        writeFileSync(progress, original);
        const failing = await invoke(check, [first.id], env);
        assert.equal(failing.code, 1);
        assert.match(failing.stdout, /note: .*progress\.json changed while your code ran; it is put back as this command recorded it/);
        assert.equal(readFileSync(progress, 'utf8'), original, 'a failing answer recorded nothing');
        // A passing answer that tampers: only its own pass is recorded.
        writeFileSync(path.join(dir, folderName(first), 'exercise.ts'), `${tamper}${reference}`);
        const passing = await invoke(check, [first.id], env);
        assert.equal(passing.code, 0, passing.stdout);
        const recorded = JSON.parse(readFileSync(progress, 'utf8'));
        assert.deepEqual(Object.keys(recorded.done).sort(), [first.slug, second.slug].sort());
        assert.notEqual(recorded.done[first.slug], '2030-01-01T00:00:00.000Z');
        assert.deepEqual(recorded.hints, { [second.slug]: 1 });
      });

      test('a check of a correct answer reports nothing left open, even for a file edited just before', async () => {
        const { dir, progress } = lessonsCopy();
        for (let i = 0; i < 3; i += 1) {
          const fresh = learnerFile(`${readFileSync(solutionFile(first), 'utf8')}\n// edit ${i} ${Date.now()}\n`);
          const out = await invoke(check, [first.id, '--file', fresh], { WORKBOOK_LESSONS_DIR: dir, WORKBOOK_PROGRESS: progress, WORKBOOK_TYPECHECK: 'off' });
          assert.equal(out.code, 0, out.stdout);
          assert.doesNotMatch(out.stdout, /still had open/);
        }
      });

      test('progress files of the wrong shape, a directory in their place, or one that cannot be written: one line each, nothing left behind', async () => {
        const { dir } = lessonsCopy({ [first.id]: readFileSync(solutionFile(first), 'utf8') });
        const cases: [string, RegExp][] = [
          ['[]', /is not in the workbook's format \(it should hold an object\)/],
          ['{"done": []}', /"done" should be an object/],
          ['{"done": {"create-server": 5}}', /done\["create-server"\] should be a date, got 5/],
          ['{"hints": {"nagle": "two"}}', /hints\["nagle"\] should be a whole number/],
          ['{"version": 7}', /version 7, expected 1/],
          ['{not json', /is not valid JSON/],
        ];
        for (const [text, message] of cases) {
          const file = path.join(dir, `progress-${cases.indexOf(cases.find((c) => c[0] === text)!)}.json`);
          writeFileSync(file, text);
          for (const main of [check, progress_, next, hint]) {
            const out = await invoke(main, [], { WORKBOOK_LESSONS_DIR: dir, WORKBOOK_PROGRESS: file });
            assert.equal(out.code, 1, `${text}: ${out.stdout}${out.stderr}`);
            assertOneLine(out.stderr);
            assert.match(out.stderr, message);
            assert.match(out.stderr, /fix it, or delete .* to start over/);
          }
        }
        const folder = path.join(dir, 'progress-folder.json');
        mkdirSync(folder);
        const asFolder = await invoke(progress_, [], { WORKBOOK_PROGRESS: folder });
        assert.equal(asFolder.code, 1);
        assertOneLine(asFolder.stderr);
        assert.match(asFolder.stderr, /is a directory, but the workbook keeps its progress in a file of that name/);

        // A progress file whose folder is a file: the verdict comes first, then one line, and no temporary file.
        const blocker = path.join(dir, 'not-a-folder');
        writeFileSync(blocker, '');
        const unwritable = await invoke(check, [first.id], { WORKBOOK_LESSONS_DIR: dir, WORKBOOK_PROGRESS: path.join(blocker, 'progress.json'), WORKBOOK_TYPECHECK: 'off' });
        assert.match(unwritable.stdout, /✓ Passed: /, 'the verdict is shown');
        assertOneLine(unwritable.stderr);
        assert.match(unwritable.stderr, /could not save your progress in .*not-a-folder\/progress\.json \(ENOTDIR\): check that its folder is writable/);
        assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
      });

      test('an exercise can be named like a lesson: 1, 01, 01-name or name; no name means the current one', () => {
        const none = { version: 1 as const, done: {}, hints: {} };
        for (const lesson of exerciseLessons()) {
          for (const id of [String(Number(lesson.id)), lesson.id, folderName(lesson), lesson.slug]) {
            assert.equal(resolveExercise(id, none), lesson, id);
          }
        }
        assert.equal(resolveExercise(undefined, none), first);
        assert.equal(resolveExercise(undefined, { ...none, done: { [first.slug]: 'x' } }), second);
        const all = Object.fromEntries(exerciseLessons().map((l) => [l.slug, 'x']));
        assert.equal(resolveExercise(undefined, { ...none, done: all }), undefined);
      });

      test('when every exercise is done, check, next, progress and hint say so and exit 0', async () => {
        const { dir, progress } = lessonsCopy();
        const done = Object.fromEntries(exerciseLessons().map((l) => [l.slug, '2020-01-01T00:00:00.000Z']));
        writeFileSync(progress, JSON.stringify({ version: 1, done, hints: {} }));
        const env = { WORKBOOK_LESSONS_DIR: dir, WORKBOOK_PROGRESS: progress };
        const total = exerciseLessons().length;
        for (const main of [check, next, progress_, hint]) {
          const { code, stdout, stderr } = await invoke(main, [], env);
          assert.equal(code, 0, stderr);
          assert.match(stdout, /All exercises are done/);
        }
        assert.match((await invoke(progress_, [], env)).stdout, new RegExp(`\\[#{20}\\] ${total}/${total}`));
      });

      test('hint: one more hint each time, --all for all, never beyond the last', async () => {
        const env = { WORKBOOK_PROGRESS: path.join(lessonsCopy().dir, 'hints.json') };
        const hints = readHints(first);
        let last = '';
        for (let i = 1; i <= hints.length + 1; i += 1) {
          const { code, stdout, stderr } = await invoke(hint, [first.id], env);
          assert.equal(code, 0, stderr);
          const n = Math.min(i, hints.length);
          assert.ok(stdout.startsWith(`Hint ${n} of ${hints.length} for ${first.id} · ${first.exercise.title}: ${hints[n - 1].title}\n`), stdout);
          assert.ok(stdout.includes(hints[n - 1].text));
          last = stdout;
        }
        assert.match(last, /That was the last hint/);
        const all = await invoke(hint, [first.slug, '--all'], env);
        for (const h of hints) assert.ok(all.stdout.includes(h.title) && all.stdout.includes(h.text), h.title);
        const unknown = await invoke(hint, ['nope'], env);
        assert.equal(unknown.code, 2);
        assertOneLine(unknown.stderr);
      });

      test('reset: without a terminal and without --yes it refuses in one line and changes nothing', { skip: process.stdin.isTTY === true && 'stdin is a terminal here' }, async () => {
        const mine = '// my work in progress\n';
        const { dir, progress } = lessonsCopy({ [first.id]: mine });
        const refused = await invoke(reset, [first.id], { WORKBOOK_LESSONS_DIR: dir, WORKBOOK_PROGRESS: progress });
        assert.equal(refused.code, 2);
        assertOneLine(refused.stderr);
        assert.match(refused.stderr, new RegExp(`no terminal to ask in: add --yes \\(npm run reset ${first.id} -- --yes\\)`));
        assert.equal(readFileSync(path.join(dir, folderName(first), 'exercise.ts'), 'utf8'), mine);
      });

      test('reset --yes: restores the starting file, keeps your version as a .bak, marks the exercise not done', async () => {
        const mine = '// my work in progress\nexport const x = 1;\n';
        const { dir, progress } = lessonsCopy({ [first.id]: mine });
        writeFileSync(progress, JSON.stringify({ version: 1, done: { [first.slug]: '2020-01-01T00:00:00.000Z' }, hints: {} }));
        const env = { WORKBOOK_LESSONS_DIR: dir, WORKBOOK_PROGRESS: progress };
        const target = path.join(dir, folderName(first), 'exercise.ts');

        const done = await invoke(reset, [first.id, '--yes'], env);
        assert.equal(done.code, 0, done.stderr);
        assert.equal(readFileSync(target, 'utf8'), stubOf(first));
        const backups = readdirSync(path.dirname(target)).filter((f) => /^exercise\.ts\..+\.bak$/.test(f));
        assert.equal(backups.length, 1);
        assert.equal(readFileSync(path.join(path.dirname(target), backups[0]), 'utf8'), mine);
        assert.match(done.stdout, /Your version is saved as .*\.bak/);
        assert.deepEqual(JSON.parse(readFileSync(progress, 'utf8')).done, {});

        const again = await invoke(reset, [first.id, '--yes'], env);
        assert.equal(again.code, 0);
        assert.match(again.stdout, /already at its starting state/);
        assert.equal(readdirSync(path.dirname(target)).filter((f) => f.endsWith('.bak')).length, 1, 'no second backup of the stub');

        // A missing exercise.ts is simply restored.
        rmSync(target);
        assert.equal((await invoke(reset, [first.id, '--yes'], env)).code, 0);
        assert.equal(readFileSync(target, 'utf8'), stubOf(first));

        const noId = await invoke(reset, [], env);
        assert.equal(noId.code, 2);
        assertOneLine(noId.stderr);
      });
    });

  });

  describe('the commands, as a learner runs them', { concurrency: true }, () => {
    test('npm run check on a hanging answer ends within its step timeout, says what was open, and exits by itself', async (t) => {
      const hanging = repoFile(greeter, 'solution/wrong-no-end.ts');
      const { code, stdout, stderr } = await run(t, 'bin/check.ts', [greeter.id, '--file', hanging], {
        WORKBOOK_PROGRESS: path.join(tmp, 'unused.json'),
        WORKBOOK_CHECK_TIMEOUT_SCALE: '0.5',
        WORKBOOK_TYPECHECK: 'off',
      });
      assert.equal(code, 1, stderr);
      assert.match(stdout, /✗ waiting for your server to end\(\) after the greeting \(timed out after 1000 ms\)/);
      assert.match(stdout, /still open when the step timed out:\n\s+- your server, listening on 127\.0\.0\.1:\d+, 1 open connection/);
      assert.match(stdout, /- handles: .*TCPServerWrap ×1/);
      assert.doesNotMatch(stderr, /exiting anyway/, 'it ended on its own, not through the backstop');
    });

    test('npm run watch checks the current exercise, re-checks on save, moves on after a pass, stops on Ctrl-C', async (t) => {
      const { dir, progress } = lessonsCopy({ [first.id]: stubOf(first), [second.id]: stubOf(second) });
      const watcher = start(t, 'watch.ts', ['--poll'], { WORKBOOK_LESSONS_DIR: dir, WORKBOOK_PROGRESS: progress, WORKBOOK_TYPECHECK: 'off' });
      await watcher.waitFor(/Not yet: stopped at[^]*save it to check again/, SLOW);
      writeFileSync(path.join(dir, folderName(first), 'exercise.ts'), readFileSync(solutionFile(first)));
      await watcher.waitFor(new RegExp(`Passed: ${first.id} · `), SLOW);
      // It now watches the next exercise; Ctrl-C also stops the check it has just started.
      await watcher.waitFor(new RegExp(`On to the next exercise: ${second.id} · [^]*Watching .*${folderName(second)}/exercise\\.ts`), SLOW);
      watcher.child.kill('SIGINT');
      const { code, stdout } = await watcher.finished;
      assert.equal(code, 0);
      assert.match(stdout, /Stopped watching\./);
    });
  });
});

// Tests of the workbook itself: the catalog, the lesson folders, the README's
// lesson table, and the `npm run lesson` runner.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { LESSONS, findLesson, folderName } from '../lessons/catalog.ts';
import { ROOT, assertOneLine, run, runLessonInWorker } from './processes.ts';

const LESSON_FILES = ['README.md', 'lesson.ts', 'lesson.test.ts'];

function numberedFolders(): string[] {
  return readdirSync(path.join(ROOT, 'lessons')).filter((name) => /^\d/.test(name)).sort();
}

test('lesson numbers are two digits, contiguous from 00, and names are unique', () => {
  LESSONS.forEach((lesson, index) => {
    assert.equal(lesson.id, String(index).padStart(2, '0'));
    assert.match(lesson.slug, /^[a-z0-9]+(-[a-z0-9]+)*$/);
  });
  assert.equal(new Set(LESSONS.map((l) => l.slug)).size, LESSONS.length);
});

test('every numbered folder is in the catalog, and every catalog lesson has its folder', () => {
  assert.deepEqual(numberedFolders(), LESSONS.map(folderName));
});

test('every lesson folder holds README.md, lesson.ts and lesson.test.ts', () => {
  for (const lesson of LESSONS) {
    for (const file of LESSON_FILES) {
      assert.ok(existsSync(path.join(ROOT, 'lessons', folderName(lesson), file)), `${folderName(lesson)}/${file} is missing`);
    }
  }
});

test('every lesson README starts with its number and title', () => {
  for (const lesson of LESSONS) {
    const text = readFileSync(path.join(ROOT, 'lessons', folderName(lesson), 'README.md'), 'utf8');
    assert.equal(text.split('\n')[0], `# ${lesson.id} · ${lesson.title}`);
  }
});

test('every lesson README ends with its exercise and the command that checks it', () => {
  for (const lesson of LESSONS) {
    const text = readFileSync(path.join(ROOT, 'lessons', folderName(lesson), 'README.md'), 'utf8');
    assert.ok(lesson.exercise, `lesson ${lesson.id} has no exercise in the catalog`);
    assert.match(text, /^## Exercise: /m, `${folderName(lesson)}/README.md`);
    assert.match(text, new RegExp(`npm run check ${lesson.id}\\b`), `${folderName(lesson)}/README.md`);
  }
});

test("the README's lesson table lists every lesson, in order, with a working link", () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const rows = [...readme.matchAll(/^\| (\d\d) \| \[([^\]]+)\]\(([^)]+)\) \|/gm)];
  assert.deepEqual(
    rows.map((r) => [r[1], r[2], r[3]]),
    LESSONS.map((l) => [l.id, l.title, `lessons/${folderName(l)}/README.md`]),
  );
});

test('every skipped test says why: a reason string, never a bare skip flag or an empty skip call', () => {
  const files = [
    ...LESSONS.map((l) => path.join(ROOT, 'lessons', folderName(l), 'lesson.test.ts')),
    ...readdirSync(path.join(ROOT, 'test')).filter((f) => f.endsWith('.test.ts')).map((f) => path.join(ROOT, 'test', f)),
  ];
  for (const file of files) {
    const source = readFileSync(file, 'utf8');
    assert.doesNotMatch(source, /skip:\s*true\b|\.skip\(\s*\)|\btest\.skip\(/, `${path.relative(ROOT, file)} skips without a reason`);
  }
});

test('findLesson accepts 3, 03, 03-name and name, and nothing else', () => {
  for (const lesson of LESSONS) {
    for (const id of [String(Number(lesson.id)), lesson.id, folderName(lesson), lesson.slug]) {
      assert.equal(findLesson(id), lesson, `id ${id}`);
    }
  }
  for (const bad of ['99', '100', '', 'nope', '01-wrong-name', '1.5', '-1']) assert.equal(findLesson(bad), undefined, `id ${bad}`);
});

// The runner, as a learner uses it: each case is a real process, run side by side.
describe('npm run lesson', { concurrency: true }, () => {
  test('without an id it lists every lesson with its title', async (t) => {
    const { code, stdout } = await run(t, 'bin/lesson.ts', []);
    assert.equal(code, 0);
    for (const lesson of LESSONS) assert.match(stdout, new RegExp(`^\\s+${lesson.id}\\s+${lesson.title.replace(/'/g, '.')}\\s+\\S`, 'm'));
  });

  // findLesson() is tested with every form above; here one goes through the real runner.
  test('it accepts the id "3" for lesson 03 (shown with --help)', async (t) => {
    const { code, stdout } = await run(t, 'bin/lesson.ts', ['3', '--help']);
    assert.equal(code, 0);
    assert.match(stdout, /npm run lesson 03 -- \[flags\]/);
    assert.match(stdout, /--serve/);
  });

  test('an unknown lesson exits 2 with one line naming the valid ids', async (t) => {
    const { code, stderr } = await run(t, 'bin/lesson.ts', ['99']);
    assert.equal(code, 2);
    assertOneLine(stderr);
    assert.match(stderr, /no lesson "99".*01/);
  });

  test('a bad flag exits 2 with one line listing the valid flags', async (t) => {
    const { code, stderr } = await run(t, 'bin/lesson.ts', ['01', '--bogus']);
    assert.equal(code, 2);
    assertOneLine(stderr);
    assert.match(stderr, /unknown flag --bogus.*--serve.*--port/);
  });

  test('a lesson run through the runner exits 0 on its own and draws its timeline', async (t) => {
    const { code, stdout, stderr } = await run(t, 'bin/lesson.ts', [LESSONS[1].id]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^\s+ms\s+client\s+server$/m, 'timeline header');
  });
});

// Every lesson's run, in a worker thread (a fifth of the CPU of a process): a worker, like a
// process, ends by itself only once everything the lesson opened is closed.
describe('every lesson runs', { concurrency: true }, () => {
  for (const lesson of LESSONS) {
    test(`lesson ${lesson.id} ends on its own, without an error, and draws its timeline`, async () => {
      const { ended, code, stdout, stderr } = await runLessonInWorker(path.join(ROOT, 'lessons', folderName(lesson), 'lesson.ts'));
      assert.ok(ended, `lesson ${lesson.id} did not end by itself within 20 s: something it opened is still open\n${stdout.slice(-500)}`);
      assert.equal(code, 0, stderr);
      assert.equal(stderr, '', 'nothing on stderr');
      assert.match(stdout, /^\s+ms\s+client\s+server$/m, 'timeline header');
      assert.match(stdout, /^\s+\d+\.\d\s+\S/m, 'at least one timed row');
    });
  }
});

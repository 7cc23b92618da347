// The progress file: which exercises passed (and when) and how many hints were
// shown. Only the commands write it, from what they saw: `check` from the
// verdict it received, `hint`, `reset` and `progress --forget` from what they did.
//
//   { "version": 1, "done": { "create-server": "2026-11-30T10:00:00.000Z" }, "hints": { "nagle": 2 } }
import { lstatSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Lesson } from '../../lessons/catalog.ts';
import { LessonError } from '../../lessons/shared/cli.ts';
import { ROOT, shown } from './exercises.ts';

export interface Progress {
  version: 1;
  /** slug → when its exercise passed */
  done: Record<string, string>;
  /** slug → how many hints were shown */
  hints: Record<string, number>;
}

export function progressFile(): string {
  return process.env.WORKBOOK_PROGRESS ? path.resolve(process.env.WORKBOOK_PROGRESS) : path.join(ROOT, '.workbook-progress.json');
}

/** The file's text as it is now, or undefined when there is none. */
export function progressText(file = progressFile()): string | undefined {
  let stats;
  try {
    stats = lstatSync(file);
  } catch {
    return undefined;
  }
  if (stats.isDirectory()) {
    throw new LessonError(`${shown(file)} is a directory, but the workbook keeps its progress in a file of that name: move the directory away`);
  }
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new LessonError(`cannot read the progress file ${shown(file)} (${(err as NodeJS.ErrnoException).code}): check its permissions`);
  }
}

/** Parse and validate a progress file's text; a wrong shape is one line that says where and what to do. */
export function parseProgress(text: string | undefined, file = progressFile()): Progress {
  const progress: Progress = { version: 1, done: {}, hints: {} };
  if (text === undefined || text.trim() === '') return progress;
  const fix = `fix it, or delete ${shown(file)} to start over (your record of passes and hints goes with it)`;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new LessonError(`the progress file ${shown(file)} is not valid JSON: ${fix}`);
  }
  const wrong = (what: string): never => {
    throw new LessonError(`the progress file ${shown(file)} is not in the workbook's format (${what}): ${fix}`);
  };
  if (data === null || typeof data !== 'object' || Array.isArray(data)) wrong('it should hold an object');
  const { version, done = {}, hints = {} } = data as Record<string, unknown>;
  if (version !== undefined && version !== 1) wrong(`version ${JSON.stringify(version)}, expected 1`);
  if (done === null || typeof done !== 'object' || Array.isArray(done)) wrong('"done" should be an object');
  for (const [slug, when] of Object.entries(done as object)) {
    if (typeof when !== 'string' || Number.isNaN(Date.parse(when))) wrong(`done["${slug}"] should be a date, got ${JSON.stringify(when)}`);
    progress.done[slug] = when as string;
  }
  if (hints === null || typeof hints !== 'object' || Array.isArray(hints)) wrong('"hints" should be an object');
  for (const [slug, count] of Object.entries(hints as object)) {
    if (!Number.isInteger(count) || (count as number) < 0) wrong(`hints["${slug}"] should be a whole number, got ${JSON.stringify(count)}`);
    progress.hints[slug] = count as number;
  }
  return progress;
}

export function loadProgress(): Progress {
  const file = progressFile();
  return parseProgress(progressText(file), file);
}

export function formatProgress(progress: Progress): string {
  return `${JSON.stringify(progress, null, 2)}\n`;
}

/**
 * Write the progress file: a temporary file renamed over it, so a crash never
 * leaves half a file. If writing fails, nothing is left behind and the error
 * is one line that says why.
 */
export function saveProgress(progress: Progress, file = progressFile()): void {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, formatProgress(progress));
    renameSync(temp, file);
  } catch (err) {
    try {
      rmSync(temp, { force: true });
    } catch {
      // There was no temporary file to remove (its folder is not one).
    }
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new LessonError(`could not save your progress in ${shown(file)} (${code}): check that its folder is writable`);
  }
}

export function isDone(progress: Progress, lesson: Lesson): boolean {
  return progress.done[lesson.slug] !== undefined;
}

/** Mark an exercise done (now) or not done, and save; returns false when nothing changed. */
export function setDone(lesson: Lesson, done: boolean): boolean {
  const progress = loadProgress();
  if (!done && !isDone(progress, lesson)) return false;
  if (done) progress.done[lesson.slug] = new Date().toISOString();
  else delete progress.done[lesson.slug];
  saveProgress(progress);
  return true;
}

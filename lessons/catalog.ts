// The one list of lessons: the runner, the checks and the workbook's own tests
// all read it. Folder names are `NN-slug`.
import { fileURLToPath } from 'node:url';

export interface Lesson {
  /** two digits, contiguous from 01 */
  id: string;
  slug: string;
  title: string;
  /** one line for `npm run lesson` without an id */
  summary: string;
}

export const LESSONS: readonly Lesson[] = [
  { id: '01', slug: 'create-server', title: 'Create a server', summary: 'net.createServer, listen on 127.0.0.1, port 0 and server.address()' },
  { id: '02', slug: 'server-events', title: 'Server events', summary: "'listening', 'connection', 'close' after the last socket, 'error' for a busy port" },
  { id: '03', slug: 'connection-events', title: 'Connection events', summary: "'connect', 'data', 'end', 'close', 'error', 'timeout', 'drain' and their order" },
  { id: '04', slug: 'pipe-echo', title: 'Pipe echo', summary: 'socket.pipe(socket): a byte-exact echo that respects back-pressure' },
  { id: '05', slug: 'nagle', title: "Nagle's algorithm", summary: 'small writes, delayed ACKs and setNoDelay(true), measured' },
  { id: '06', slug: 'coalescing', title: 'Coalescing', summary: "one write() is not one 'data' event: chunks, UTF-8 and framing" },
];

export const LESSONS_DIR = fileURLToPath(new URL('.', import.meta.url));

export function folderName(lesson: Lesson): string {
  return `${lesson.id}-${lesson.slug}`;
}

export function lessonDir(lesson: Lesson): string {
  return fileURLToPath(new URL(`./${folderName(lesson)}/`, import.meta.url));
}

/** Accepts `3`, `03`, `03-connection-events` or `connection-events`. */
export function findLesson(id: string): Lesson | undefined {
  const wanted = id.trim().toLowerCase().replace(/\/$/, '').replace(/^lessons\//, '');
  if (/^\d{1,2}$/.test(wanted)) return LESSONS.find((l) => Number(l.id) === Number(wanted));
  return LESSONS.find((l) => l.slug === wanted || folderName(l) === wanted);
}

export function lessonIds(): string {
  return `${LESSONS[0].id}–${LESSONS[LESSONS.length - 1].id}`;
}

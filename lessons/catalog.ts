// The one list of lessons: the runner, the checks and the workbook's own tests
// all read it. Folder names are `NN-slug`.
import { fileURLToPath } from 'node:url';

export interface Lesson {
  /** two digits, contiguous from 00 */
  id: string;
  slug: string;
  title: string;
  /** one line for `npm run lesson` without an id */
  summary: string;
  /** the lesson's exercise, once it has one */
  exercise?: Exercise;
}

/**
 * An exercise: the learner edits `exercise.ts` in the lesson folder and
 * `npm run check` runs `exercise.check.ts` against it (the harness is
 * lessons/shared/check/). The folder also holds `hints.md` and `solution/`
 * (`exercise.ts` the reference, `stub.ts` the pristine starting file, the
 * wrong answers). This is the one place for exercise metadata.
 */
export interface Exercise {
  /** what the learner builds, e.g. 'A greeting server' */
  title: string;
  /** one line: what to write (the stub's header comment says it in full) */
  task: string;
  /**
   * Known wrong answers in the lesson's `solution/` folder, each with the name
   * of the step its check must fail at. `wrong.ts` is required; test/exercises.test.ts
   * checks every entry. An answer with two faults, where a stalled machine can
   * hide the first one, lists both steps: first the one it fails at normally.
   */
  wrong: Readonly<Record<string, string | readonly [string, string]>>;
}

export const LESSONS: readonly Lesson[] = [
  {
    id: '00',
    slug: 'what-tcp-is',
    title: 'What TCP is',
    summary: 'the handshake the kernel does, the listen queue, FIN, TIME-WAIT, CLOSE-WAIT and RST',
    exercise: {
      title: 'How did it end? A connection probe',
      task: "probe(target, request): send the request and FIN, then resolve with how the connection ended (FIN, reset or refused), read from err.code",
      wrong: {
        'wrong.ts': 'sending the reply in two pieces: your promise must wait for the FIN',
        'wrong-target.ts': 'waiting for your client to connect with net.connect(target)',
        'wrong-no-end.ts': 'waiting for your client to send the request and end() its side',
        'wrong-destroy.ts': 'sending the reply in two pieces: your promise must wait for the FIN',
        'wrong-timer.ts': "waiting for your promise to settle once the server's FIN has arrived",
        'wrong-decode.ts': "waiting for your promise to settle once the server's FIN has arrived",
        'wrong-no-error.ts': 'probing a port where nothing listens',
        'wrong-message.ts': 'probing a port where nothing listens',
        'wrong-reset.ts': 'probing a server that resets the connection mid-reply',
        'wrong-received.ts': 'probing a server that resets the connection mid-reply',
        'wrong-empty.ts': 'probing a server that ends without a word',
        'wrong-other-error.ts': 'probing a host name that does not resolve',
        'wrong-shared.ts': 'two probes at once: each keeps its own bytes',
      },
    },
  },
  {
    id: '01',
    slug: 'create-server',
    title: 'Create a server',
    summary: 'net.createServer, listen on 127.0.0.1, port 0 and server.address()',
    exercise: {
      title: 'A greeting server',
      task: 'startGreeter(): a server on 127.0.0.1, port 0, that greets every client, ends the connection with end(), and survives a client that resets',
      wrong: {
        'wrong.ts': 'checking where your server listens',
        'wrong-no-end.ts': 'waiting for your server to end() after the greeting',
        'wrong-once.ts': 'greeting a second client',
        'wrong-destroy.ts': 'checking that your server used end(), not destroy()',
        'wrong-no-error.ts': 'a client resets its connection: your server must not crash',
        'wrong-server-error.ts': 'a client resets its connection: your server must not crash',
        'wrong-fixed-port.ts': 'checking where your server listens',
        'wrong-promise.ts': 'calling startGreeter()',
        'wrong-end-first.ts': 'waiting for the greeting',
        'wrong-on-data.ts': 'waiting for the greeting',
        'wrong-shared.ts': 'calling startGreeter() again: a second server of its own',
        'wrong-localhost.ts': 'checking where your server listens',
      },
    },
  },
  {
    id: '02',
    slug: 'server-events',
    title: 'Server events',
    summary: "'listening', 'connection', 'close' after the last socket, 'error' for a busy port",
    exercise: {
      title: 'A graceful shutdown',
      task: "gracefulShutdown(server): a shutdown(graceMs) that stops accepting, ends every open socket, destroys what is left after graceMs and resolves on 'close'",
      wrong: {
        'wrong.ts': "waiting for the idle client to get your server's FIN",
        'wrong-early.ts': "checking that your promise waited for 'close'",
        'wrong-destroy.ts': 'checking that nothing is destroyed before graceMs',
        // Its 50 ms sleep can end after the 100 ms graceMs when the thread is paused inside
        // shutdown() (a busy machine); then its other fault, not waiting for 'close', shows.
        'wrong-sleep.ts': ['checking that nothing is destroyed before graceMs', "checking that your promise waited for 'close'"],
        'wrong-no-deadline.ts': 'waiting for your shutdown() to destroy the connection that never closes, after graceMs',
        'wrong-fixed-deadline.ts': 'waiting for your shutdown() to destroy the connection that never closes, after graceMs',
        'wrong-idle-timeout.ts': 'waiting for your shutdown() to destroy the connection that never closes, after graceMs',
        'wrong-timeout-event.ts': 'waiting for your shutdown() to destroy the connection that never closes, after graceMs',
        'wrong-timer.ts': 'checking that your graceMs timer is cleared once the server has closed',
        'wrong-no-close.ts': 'waiting for your shutdown() to call server.close()',
        'wrong-shared.ts': "checking that shutting down one server left another server's connection alone",
        'wrong-async.ts': 'calling gracefulShutdown(server)',
        'wrong-track-late.ts': "waiting for the idle client to get your server's FIN",
        'wrong-late-resolve.ts': "checking that your promise waited for 'close'",
        'wrong-deadline-only.ts': "waiting for the idle client to get your server's FIN",
        'wrong-idle-only.ts': 'waiting for the busy client to read its whole reply, then the FIN',
      },
    },
  },
  {
    id: '03',
    slug: 'connection-events',
    title: 'Connection events',
    summary: "'connect', 'data', 'end', 'close', 'error', 'timeout', 'drain' and their order",
    exercise: {
      title: 'A whole-reply client',
      task: "fetchReply(port, request): send the request, end(), resolve with the whole reply on 'end', reject clearly when refused or reset",
      wrong: {
        'wrong.ts': "sending the reply in pieces, then the FIN: your promise must settle on 'end'",
        'wrong-decode.ts': 'checking the reply your promise resolved with',
        'wrong-no-end.ts': 'waiting for your client to send the request and end() its side',
        'wrong-no-error.ts': 'waiting for your promise to reject when nothing is listening',
        'wrong-code.ts': 'checking the error of the refused connection',
        'wrong-reset.ts': 'waiting for your promise to reject when the server resets the connection mid-reply',
        'wrong-timer.ts': "sending the reply in pieces, then the FIN: your promise must settle on 'end'",
        'wrong-sleep.ts': "sending the reply in pieces, then the FIN: your promise must settle on 'end'",
        'wrong-idle.ts': "sending the reply in pieces, then the FIN: your promise must settle on 'end'",
        'wrong-finish.ts': "sending the reply in pieces, then the FIN: your promise must settle on 'end'",
        'wrong-length.ts': "sending the reply in pieces, then the FIN: your promise must settle on 'end'",
        'wrong-destroy.ts': "sending the reply in pieces, then the FIN: your promise must settle on 'end'",
        'wrong-message.ts': 'checking the error of the refused connection',
        'wrong-late-error.ts': 'waiting for your promise to reject when nothing is listening',
        'wrong-close.ts': 'waiting for your promise to reject when nothing is listening',
        'wrong-only-refused.ts': 'waiting for your promise to reject when the server resets the connection mid-reply',
        'wrong-shared.ts': 'calling fetchReply() twice at once: each promise must get its own reply',
        'wrong-reset-shared.ts': 'calling fetchReply() twice at once: each promise must get its own reply',
      },
    },
  },
  {
    id: '04',
    slug: 'pipe-echo',
    title: 'Pipe echo',
    summary: 'socket.pipe(socket): a byte-exact echo that respects back-pressure',
    exercise: {
      title: 'A shouting echo',
      task: 'startShoutEcho(): an echo on 127.0.0.1, port 0, that sends every byte back with a–z in upper case, respecting back-pressure',
      wrong: {
        'wrong.ts': 'a client that sends without reading: your server must stop reading',
        'wrong-no-end.ts': "waiting for your server to end after the client's FIN",
        'wrong-text.ts': 'shouting 256 KiB of random bytes back, byte for byte',
        'wrong-no-error.ts': 'a client resets its connection: your server must not crash',
        'wrong-greeting.ts': 'shouting a short message back',
        'wrong-destroy.ts': "waiting for your server to end after the client's FIN",
        'wrong-latin1.ts': 'shouting 256 KiB of random bytes back, byte for byte',
        'wrong-no-resume.ts': 'the client reads at last: every byte back, then a FIN',
        'wrong-resume-early.ts': 'a client that sends without reading: your server must stop reading',
        'wrong-queue.ts': 'a client that sends without reading: your server must stop reading',
        'wrong-big-buffer.ts': 'a client that sends without reading: your server must stop reading',
        'wrong-all-interfaces.ts': 'checking where your server listens',
        'wrong-shared.ts': 'shouting 256 KiB of random bytes back, byte for byte',
      },
    },
  },
  {
    id: '05',
    slug: 'nagle',
    title: "Nagle's algorithm",
    summary: 'small writes, delayed ACKs and setNoDelay(true), measured',
    exercise: {
      title: 'A request that does not stall',
      task: 'sendRequest(socket, head, body): send a request made of two parts so that it never waits for the delayed ACK',
      wrong: {
        'wrong.ts': 'comparing your round trips with two plain writes',
        'wrong-callback.ts': 'comparing your round trips with two plain writes',
        'wrong-nodelay-false.ts': 'comparing your round trips with two plain writes',
        'wrong-uncork-early.ts': 'comparing your round trips with two plain writes',
        'wrong-keepalive.ts': 'comparing your round trips with two plain writes',
        'wrong-order.ts': 'waiting for the server to receive the first request',
        'wrong-corked.ts': 'waiting for the server to receive the first request',
        'wrong-end.ts': 'calling sendRequest() for the first request',
        'wrong-destroy.ts': 'calling sendRequest() for the first request',
        'wrong-timer.ts': 'calling sendRequest() for the first request',
        'wrong-space.ts': 'calling sendRequest() for the first request',
      },
    },
  },
  {
    id: '06',
    slug: 'coalescing',
    title: 'Coalescing',
    summary: "one write() is not one 'data' event: chunks, UTF-8 and framing",
    exercise: {
      title: 'A line splitter',
      task: 'LineSplitter.push(chunk): the complete lines so far, whole UTF-8 characters however the chunks are cut, and a size limit',
      wrong: {
        'wrong.ts': 'decoding lines sent one byte at a time (every character cut)',
        'wrong-no-rest.ts': 'splitting lines cut at random places between characters',
        'wrong-cr.ts': 'splitting lines sent one per chunk',
        'wrong-every-cr.ts': 'splitting lines sent one per chunk',
        'wrong-skip-empty.ts': 'splitting lines sent one per chunk',
        'wrong-buffers.ts': 'splitting lines sent one per chunk',
        'wrong-endless.ts': 'splitting lines sent one per chunk',
        'wrong-shared.ts': 'splitting two streams at once, one LineSplitter each',
        'wrong-shared-decoder.ts': 'splitting two streams at once, one LineSplitter each',
        'wrong-limit-chunk.ts': 'accepting lines of exactly maxBytes bytes (16)',
        'wrong-limit-equal.ts': 'accepting lines of exactly maxBytes bytes (16)',
        'wrong-chars.ts': 'refusing a line over maxBytes bytes',
        'wrong-limit-late.ts': 'refusing an endless line before its newline arrives',
      },
    },
  },
  {
    id: '07',
    slug: 'udp',
    title: 'UDP with dgram',
    summary: "datagrams: no connection, boundaries kept, 65507 B at most, losses nobody reports",
    exercise: {
      title: 'Ask, and ask again',
      task: 'ask(port, question, { timeout, retries }): a UDP request that resends on timeout, takes only the answer from the server it asked, and always closes its socket',
      wrong: {
        'wrong.ts': 'asking a server that drops your first 2 datagrams',
        'wrong-burst.ts': 'asking a server that drops your first 2 datagrams',
        'wrong-sleep.ts': 'asking a server that answers at once',
        'wrong-close-early.ts': 'asking a server that answers at once',
        'wrong-no-close.ts': 'checking that ask() closed its socket after the answer',
        'wrong-timer.ts': 'checking that ask() stopped sending after the answer',
        // On a machine slow enough that even the 3rd datagram's answer comes after that attempt's
        // timeout, the same fault (only the newest socket listens) shows one step earlier.
        'wrong-per-attempt.ts': ['asking a server that answers your first datagram late, after your retry', 'asking a server that drops your first 2 datagrams'],
        'wrong-duplicate.ts': 'asking a server that answers twice',
        'wrong-unlimited.ts': 'asking a server that never answers',
        'wrong-count.ts': 'asking a server that never answers',
        'wrong-early-reject.ts': 'asking a server that answers at once, with retries: 0',
        'wrong-message.ts': 'checking the error when no answer comes',
        'wrong-reject-leak.ts': 'checking that ask() stopped and closed its socket after giving up',
        'wrong-any-sender.ts': 'asking a server whose answer comes after one from another port',
        'wrong-shared.ts': 'two calls at once, answered in reverse order',
        'wrong-send-error.ts': 'asking with a question too big for one datagram (65508 bytes)',
        'wrong-no-error-listener.ts': 'asking a port where nothing is bound',
      },
    },
  },
  {
    id: '08',
    slug: 'http',
    title: 'HTTP is TCP plus framing',
    summary: 'an HTTP/1.1 server on net (head, Content-Length, chunked, keep-alive, limits), then what http does for you',
    exercise: {
      title: 'Read one HTTP request',
      task: 'RequestReader.push(chunk): the requests each chunk completes, however the bytes were cut (head, Content-Length body, pipelining), with the limits HTTP has',
      wrong: {
        'wrong.ts': 'reading a GET request sent in one chunk',
        'wrong-chars.ts': 'reading a POST body framed by Content-Length, sent with its head',
        'wrong-head-only.ts': 'reading a POST body framed by Content-Length, sent with its head',
        'wrong-case.ts': 'giving header names in lower case, whatever case they were sent in',
        'wrong-decode.ts': 'reading requests sent one per chunk',
        'wrong-pipeline.ts': 'reading pipelined requests that arrive together in one chunk',
        'wrong-one-per-push.ts': 'reading pipelined requests that arrive together in one chunk',
        'wrong-overlap.ts': 'reading requests sent one byte at a time',
        'wrong-short-body.ts': 'reading requests sent one byte at a time',
        'wrong-shared.ts': 'two RequestReaders at once, each with its own stream',
        'wrong-plain-error.ts': 'refusing a head over maxHeadBytes bytes (431)',
        'wrong-limit-late.ts': 'refusing an endless head before it is complete (431)',
        'wrong-number.ts': 'refusing a Content-Length that is not a number of bytes (400)',
        'wrong-no-body-limit.ts': 'refusing a Content-Length over maxBodyBytes before the body arrives (413)',
        'wrong-rescan.ts': 'reading 2000 pipelined requests in small pieces, in time that grows with the bytes',
        'wrong-concat.ts': 'reading a body of 2 MiB in 256-byte pieces, in time that grows with the bytes',
      },
    },
  },
  {
    id: '09',
    slug: 'tls',
    title: 'TLS and HTTPS',
    summary: 'tls.connect with a certificate made for this run: the handshake, verification, records, ALPN, https',
    exercise: {
      title: 'A TLS client that trusts only its CA',
      task: 'fetchSecurely({ port, servername, ca, request }): trust only that CA, check the name, send only to a verified server, resolve with the whole reply on end',
      wrong: {
        'wrong.ts': 'refusing an impostor: the right name, a certificate from another CA',
        'wrong-no-servername.ts': "waiting for your client's TLS handshake with the real server",
        'wrong-no-ca.ts': "waiting for your client's TLS handshake with the real server",
        'wrong-all-cas.ts': 'checking that your client trusts only the given CA, with verification on',
        'wrong-manual-check.ts': 'checking that your client trusts only the given CA, with verification on',
        'wrong-env.ts': 'refusing an impostor: the right name, a certificate from another CA',
        'wrong-first-data.ts': 'sending the reply in several records: your promise must wait for the end',
        'wrong-timer.ts': 'sending the reply in several records: your promise must wait for the end',
        'wrong-decode.ts': 'waiting for your promise to resolve with the whole reply',
        'wrong-no-error.ts': 'refusing an impostor: the right name, a certificate from another CA',
        'wrong-authorized-late.ts': 'refusing an impostor: the right name, a certificate from another CA',
        'wrong-wrap-error.ts': 'refusing an impostor: the right name, a certificate from another CA',
        'wrong-identity.ts': 'refusing a certificate for another name, from the CA you trust',
        'wrong-once.ts': 'waiting for your promise to reject when a byte of the reply is changed on the way',
        'wrong-no-destroy.ts': 'waiting for your promise to reject when a byte of the reply is changed on the way',
      },
    },
  },
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

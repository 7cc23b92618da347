// The check for exercise 09: run it with `npm run check 09`.
//
// The check makes its own certificates: a CA, a certificate it issues for
// NAME, an impostor's certificate for NAME from another CA, and one for
// another name from the same CA. Its real server reads the request line and
// answers in several records (some end halfway through a character), holds
// its close_notify back a moment, then ends. Then the learner's client meets
// the impostor, the certificate for another name, and a relay that changes a
// byte of the reply. Last, it looks at how the client decided: the certificate
// authorities it trusts and whether verification was on. tls.createSecureContext()
// and tls.connect() are watched while the learner's code runs: the first says what
// the client trusts, the second finds its sockets (to know when its code has read
// the whole reply).
import { X509Certificate } from 'node:crypto';
import type net from 'node:net';
import tls from 'node:tls';
import { HOST, Signal, defineCheck, fail, isThenable, show, turn, type Check, type Recorder, type Step } from '../shared/check/index.ts';
import { issue, makeAuthority, type Authority, type KeyAndCert } from './certs.ts';
import type * as Exercise from './exercise.ts';
import { createRelay } from './relay.ts';

// The check's own copies: changing exercise.ts does not change what is expected.
const NAME = 'bank.workbook.test';
const OTHER_NAME = 'shop.workbook.test';
const REQUEST = 'GET /balance\n';
const REPLY = 'balance: 1 234,56 €\nthank you, à bientôt 👋\n';
const IMPOSTOR_REPLY = "balance: 0,00 € (the impostor's reply)\n";
/**
 * An answer may set NODE_TLS_REJECT_UNAUTHORIZED for the whole process, even while it loads (before
 * the check runs): a worker that runs more checks afterwards must not keep it. This file is loaded
 * before any answer, so this is the value the worker started with.
 */
const ENV_AT_START = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
/** The check's own work (making certificates, starting servers) may be slow on a busy machine: it is not the learner's. */
const CHECK_WORK_MS = 10_000;
/** How long the real server holds its close_notify back after the last record. */
const HOLD_MS = 100;
/** The reply in records, cut inside '€', right after the first line, and inside '👋'. */
const PIECES = cut(Buffer.from(REPLY), ['€', '\n', '👋'].map((s, i) => Buffer.from(REPLY).indexOf(s) + [1, 1, 2][i]));

function cut(bytes: Buffer, at: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let from = 0;
  for (const to of [...at.sort((a, b) => a - b), bytes.length]) {
    pieces.push(bytes.subarray(from, to));
    from = to;
  }
  return pieces;
}

type Outcome = { state: 'pending' } | { state: 'resolved'; value: unknown } | { state: 'rejected'; reason: unknown };

/** The learner's promise, watched: `changed` is notified when it settles. */
function follow(promise: PromiseLike<unknown>, changed: Signal): { outcome: Outcome; describe(): string } {
  const watched = {
    outcome: { state: 'pending' } as Outcome,
    describe(): string {
      const o = watched.outcome;
      if (o.state === 'pending') return 'your promise is still pending';
      return o.state === 'resolved' ? `your promise resolved with ${show(o.value)}` : `your promise rejected with ${reasonOf(o.reason)}`;
    },
  };
  Promise.resolve(promise).then(
    (value) => ((watched.outcome = { state: 'resolved', value }), changed.notify()),
    (reason: unknown) => ((watched.outcome = { state: 'rejected', reason }), changed.notify()),
  );
  return watched;
}

function reasonOf(reason: unknown): string {
  if (!(reason instanceof Error)) return show(reason);
  const code = (reason as NodeJS.ErrnoException).code;
  // OpenSSL's messages are long and name its source files: the code says it all.
  const message = reason.message.split('\n')[0];
  return `${reason.name}${code === undefined ? ' (no code)' : ` ${code}`}: ${show(message.length > 80 ? `${message.slice(0, 79)}…` : message)}`;
}

/** Fingerprints of every certificate in a `ca` option: text, Buffer, or a list of them. */
function trusted(ca: unknown): string[] | undefined {
  if (ca === undefined || ca === null) return undefined;
  const list = Array.isArray(ca) ? ca : [ca];
  const fingerprints: string[] = [];
  for (const item of list) {
    const text = Buffer.isBuffer(item) || item instanceof Uint8Array ? Buffer.from(item).toString('latin1') : String(item);
    for (const pem of text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []) {
      fingerprints.push(new X509Certificate(pem).fingerprint256);
    }
  }
  return fingerprints;
}

/** One side of a connection the check's servers accepted. */
interface Accepted {
  socket: tls.TLSSocket;
  rx: Recorder;
}

/** A TLS server of the check: it records what each client sends; `answer` decides what to send back. */
function startServer(c: Check<typeof Exercise>, name: string, creds: KeyAndCert, changed: Signal, answer?: (conn: Accepted) => void) {
  const accepted: Accepted[] = [];
  const refused: string[] = [];
  const raw: net.Socket[] = [];
  const server = c.name(
    tls.createServer(creds, (socket) => {
      // Not destroyed on an error: after the handshake a TLS error leaves both ends open, and the
      // check wants to see the learner's client close its own. The check closes everything at the end.
      socket.on('error', () => {});
      // A client may end() its side after the request: the reply still goes out. (Set only now:
      // with allowHalfOpen during the handshake, a client that refuses and closes would linger.)
      socket.allowHalfOpen = true;
      const conn = { socket, rx: c.record(socket, { maxBytes: 4096, from: 'your client' }) };
      for (const event of ['data', 'end', 'close']) socket.on(event, () => changed.notify());
      accepted.push(conn);
      changed.notify();
      answer?.(conn);
    }),
    name,
  );
  server.on('connection', (socket: net.Socket) => {
    raw.push(socket);
    socket.on('close', () => changed.notify());
    changed.notify();
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => {
    refused.push(err.code ?? err.message);
    socket.destroy();
    changed.notify();
  });
  server.listen(0, HOST);
  return { server, accepted, refused, raw, open: () => raw.filter((s) => !s.destroyed && !s.closed).length };
}

/** Write and wait until TLS has encrypted it and handed it on: one record per call. */
function record(socket: tls.TLSSocket, piece: Buffer): Promise<void> {
  return new Promise((resolve) => socket.write(piece, () => resolve()));
}

/** The check's certificates: made once per worker thread, and reused when a worker runs this check again (the workbook's own tests do). */
let made: ReturnType<typeof makeCertificates> | undefined;
async function makeCertificates() {
  const [ca, otherCa] = await Promise.all([makeAuthority('Exercise 09 CA'), makeAuthority('Not your CA')]);
  const [real, impostor, otherName] = await Promise.all([issue(ca, [NAME]), issue(otherCa, [NAME]), issue(ca, [OTHER_NAME])]);
  return { ca, real, impostor, otherName };
}

export default defineCheck<typeof Exercise>(async (c) => {
  const fetchSecurely = await c.exported('fetchSecurely');

  // Every secure context made while the learner's code runs: what each trusts.
  const contexts: (tls.SecureContextOptions | undefined)[] = [];
  const createSecureContext = tls.createSecureContext;
  tls.createSecureContext = (options?: tls.SecureContextOptions) => {
    contexts.push(options);
    return createSecureContext(options);
  };
  // The learner's TLS sockets, and how many bytes each has handed to the learner's code ('data'
  // events, counted without adding a listener, which would make the socket flow).
  const changed = new Signal();
  const clients: tls.TLSSocket[] = [];
  const delivered = new WeakMap<tls.TLSSocket, number>();
  const connect = tls.connect;
  tls.connect = function (this: unknown, ...args: unknown[]) {
    const socket = (connect as (...a: unknown[]) => tls.TLSSocket).apply(this, args);
    clients.push(socket);
    const emit = socket.emit;
    socket.emit = function (this: tls.TLSSocket, event: string | symbol, ...rest: unknown[]) {
      if (event === 'data') {
        delivered.set(socket, (delivered.get(socket) ?? 0) + Buffer.byteLength(rest[0] as string | Buffer));
        changed.notify();
      }
      return (emit as (...a: unknown[]) => boolean).call(this, event, ...rest);
    } as typeof socket.emit;
    return socket;
  } as typeof tls.connect;
  try {
    const certs = await c.step('making the certificates for this check', async () => {
      made ??= makeCertificates();
      return made.catch((err: unknown) => {
        made = undefined;
        throw err;
      });
    }, { timeout: CHECK_WORK_MS });
    const ca: Authority = certs.ca;
    const caFingerprint = new X509Certificate(ca.cert).fingerprint256;

    // The impostor and the wrong name answer any request at once, as a man in the middle would.
    const answerAtOnce = (conn: Accepted) => void conn.rx.untilText((t) => t.includes('\n')).then(() => conn.socket.end(IMPOSTOR_REPLY), () => {});
    const servers = await c.step("starting the check's servers", async () => {
      const real = startServer(c, "the check's real server", certs.real, changed);
      const impostor = startServer(c, "the impostor's server", certs.impostor, changed, answerAtOnce);
      const otherName = startServer(c, `the server for ${OTHER_NAME}`, certs.otherName, changed, answerAtOnce);
      const tampered = startServer(c, "the server behind the tampering relay", certs.real, changed);
      for (const s of [real, impostor, otherName, tampered]) await c.listening(s.server);
      // A relay that flips one bit of the first chunk from the server after it is armed.
      let armed = false;
      const relay = c.name(
        createRelay({ port: (tampered.server.address() as net.AddressInfo).port, host: HOST }, {
          alter: (data, chunk) => {
            if (!armed || chunk.from !== 'server') return data;
            armed = false;
            const changedData = Buffer.from(data);
            changedData[changedData.length - 1] ^= 1;
            return changedData;
          },
        }),
        'the tampering relay',
      );
      // Whether the learner's side of the relayed connection has gone (its FIN or reset arrived).
      let learnerGone = false;
      relay.on('connection', (socket: net.Socket) => {
        for (const event of ['end', 'error', 'close']) socket.on(event, () => ((learnerGone = true), changed.notify()));
      });
      relay.listen(0, HOST);
      const { port: relayPort } = await c.listening(relay);
      return { real, impostor, otherName, tampered, relayPort, arm: () => (armed = true), learnerGone: () => learnerGone };
    }, { timeout: CHECK_WORK_MS });
    const portOf = (s: { server: tls.Server }) => (s.server.address() as net.AddressInfo).port;

    /** The learner's call, watched; fails unless it returns a promise. */
    const call = (port: number) => {
      const result: unknown = fetchSecurely({ port, servername: NAME, ca: ca.cert, request: REQUEST });
      if (!isThenable(result)) return c.fail(`fetchSecurely() returned ${show(result)}; expected a promise of the reply (return new Promise(…), or make the function async)`);
      return follow(result, changed);
    };

    // ── 1. the real server ─────────────────────────────────────────────────────

    const first = await c.step('calling fetchSecurely() for the real server', () => {
      contexts.length = 0; // from now on, only the learner's code makes secure contexts
      return call(portOf(servers.real));
    });

    const conn = await c.step("waiting for your client's TLS handshake with the real server", async (s) => {
      const { real } = servers;
      s.timeoutMessage = `no TLS handshake finished: fetchSecurely() must connect to ${HOST}:port with tls.connect()`;
      s.actual = () => `the server accepted ${real.raw.length} TCP connection(s); errors before the handshake: ${real.refused.join(', ') || 'none'}; ${first.describe()}`;
      await changed.until(() => {
        if (real.accepted.length > 0) return true;
        const plain = real.refused.find((code) => /WRONG_VERSION_NUMBER|HTTP_REQUEST|UNKNOWN_PROTOCOL|PACKET_LENGTH/.test(code));
        if (plain) fail(`the check's server got plain bytes where a TLS ClientHello belongs (${plain}): connect with tls.connect(), not net.connect()`);
        if (first.outcome.state === 'resolved') fail(`${first.describe()} before any TLS handshake with the server`);
        if (first.outcome.state === 'rejected') fail(whyRefused(first.outcome.reason), { actual: first.describe() });
        if (real.refused.length > 0) {
          s.timeoutMessage = `your client closed the connection during the handshake (${real.refused.join(', ')}: did it refuse the certificate?), and your promise never settled: reject in an 'error' listener`;
        }
        return false;
      });
      return real.accepted[0];
    });

    await c.step('waiting for the request', async (s) => {
      s.expected = show(REQUEST);
      s.actual = () => `the server got ${conn.rx.describe()}; ${first.describe()}`;
      s.timeoutMessage = 'the handshake is done, but the request did not arrive: write it to the socket (it ends with "\\n")';
      await changed.until(() => {
        if (conn.rx.text.includes('\n') || conn.rx.gotEnd || conn.rx.gotClose) return true;
        if (first.outcome.state !== 'pending') fail(`${first.describe()} before the request was sent`);
        return false;
      });
      c.expectEqual(conn.rx.text, REQUEST, 'the server got something other than the request');
    });

    await c.step('sending the reply in several records: your promise must wait for the end', async (s) => {
      s.timeoutMessage = 'the server could not send its reply: is your client still reading?';
      const early = (what: string) => {
        const o = first.outcome;
        if (o.state === 'resolved') {
          const why = o.value === REPLY
            ? "only 'end' says that nothing more will come (the text itself cannot tell you) — resolve on 'end'"
            : "one 'data' event is one record, not the whole reply — keep every chunk and resolve on 'end'";
          fail(`your promise resolved before the server's close_notify and FIN, ${what}: ${why}`, {
            expected: `${show(REPLY)}, once the server has ended`,
            actual: `resolved with ${show(o.value)} before the end`,
          });
        }
        if (o.state === 'rejected') fail(`your promise rejected while the reply was still arriving, ${what}: ${reasonOf(o.reason)}`);
        if (conn.socket.destroyed) fail('your client closed the connection while the reply was still arriving', { actual: first.describe() });
      };
      let written = 0;
      for (const piece of PIECES) {
        early(`with ${written} of the ${PIECES.length} records of the reply sent`);
        await record(conn.socket, piece);
        written += 1;
      }
      // The learner's code has had every byte of the reply (when its socket can be found: tls.connect()).
      const learner = clients.find((socket) => socket.localPort !== undefined && socket.localPort === conn.socket.remotePort);
      if (learner) {
        s.timeoutMessage = "the whole reply reached your client's socket, but your code did not read it all: keep reading ('data') until 'end'";
        s.actual = () => `your code has read ${delivered.get(learner) ?? 0} of ${Buffer.byteLength(REPLY)} B; ${first.describe()}`;
        await changed.until(() => (delivered.get(learner) ?? 0) >= Buffer.byteLength(REPLY) || first.outcome.state !== 'pending' || learner.destroyed);
        early('with the whole reply sent but the end not yet');
      }
      // Hold the end back: a client that guesses the reply is over (a timer, the last newline) shows it now.
      await Promise.race([c.sleep(HOLD_MS), changed.until(() => first.outcome.state !== 'pending' || conn.socket.destroyed).catch(() => {})]);
      early('with the whole reply sent but the end not yet');
    });

    await c.step('waiting for your promise to resolve with the whole reply', async (s) => {
      conn.socket.end();
      s.timeoutMessage = "the server sent the whole reply and then ended (close_notify, FIN), but your promise did not settle: resolve it when the socket emits 'end'";
      s.expected = show(REPLY);
      s.actual = () => first.describe();
      await changed.until(() => first.outcome.state !== 'pending');
      const o = first.outcome;
      if (o.state === 'rejected') fail(`your promise rejected after a clean reply and end: ${reasonOf(o.reason)}`, { expected: s.expected });
      if (o.state !== 'resolved') return;
      if (Buffer.isBuffer(o.value)) {
        fail(`your promise resolved with a Buffer of ${o.value.length} B; expected the reply as a string: decode the whole reply with toString('utf8')`, { expected: s.expected, actual: show(o.value) });
      }
      if (typeof o.value !== 'string') fail(`your promise resolved with ${show(o.value)}; expected the reply as a string`, { expected: s.expected, actual: show(o.value) });
      if (o.value.includes('\ufffd')) {
        fail(
          "the reply has � where a record ended halfway through a character: turning each chunk into a string on its own (also `text += chunk`) breaks it — join the Buffers and decode once, or call setEncoding('utf8')",
          { expected: s.expected, actual: show(o.value) },
        );
      }
      c.expectEqual(o.value, REPLY, 'your promise resolved with something other than the whole reply');
    });

    // ── 2. servers it must refuse ───────────────────────────────────────────────

    const refuses = async (target: ReturnType<typeof startServer>, expectedCode: string, who: string, s: Step) => {
      const acceptedBefore = target.accepted.length;
      const attempt = call(portOf(target));
      const env = () => (process.env.NODE_TLS_REJECT_UNAUTHORIZED === '0' ? " NODE_TLS_REJECT_UNAUTHORIZED is '0' in this process: that turns verification off for every connection." : '');
      s.actual = () => `${attempt.describe()}; ${who} got ${target.accepted.at(-1)?.rx.describe() ?? 'no finished handshake'}`;
      s.timeoutMessage = `your client's connection to ${who} failed verification, but your promise never settled: reject in an 'error' listener, and let the socket close`;
      // Settled, and the connection it made (if any) closed: nothing more can arrive.
      await changed.until(() => attempt.outcome.state !== 'pending' && target.open() === 0);
      const mine = target.accepted.slice(acceptedBefore);
      const sent = mine.reduce((sum, a) => sum + a.rx.received, 0);
      const o = attempt.outcome;
      if (o.state === 'resolved') {
        fail(`your promise resolved with the reply of ${who}: your client accepted a certificate it must refuse (${expectedCode}).${env()} Leave rejectUnauthorized alone (true)`, {
          expected: `a rejection with code ${expectedCode}`,
          actual: `resolved with ${show(o.value)}`,
        });
      }
      if (sent > 0) {
        fail(`your client sent the request to ${who} (${sent} B arrived there) before it knew the certificate was bad: check first, or leave rejectUnauthorized true and Node never sends it`, {
          expected: 'nothing sent, then a rejection',
          actual: `${who} received ${show(mine.map((a) => a.rx.text).join(''))}`,
        });
      }
      const code = (o as { reason?: NodeJS.ErrnoException }).reason?.code;
      if (code !== expectedCode) {
        fail(`your promise rejected, but not with Node's error: reject with the error the socket emitted, so a caller can tell what was wrong`, {
          expected: `an Error with code ${expectedCode}`,
          actual: reasonOf((o as { reason?: unknown }).reason),
        });
      }
    };

    await c.step('refusing an impostor: the right name, a certificate from another CA', (s) =>
      refuses(servers.impostor, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'the impostor', s));

    await c.step('refusing a certificate for another name, from the CA you trust', (s) =>
      refuses(servers.otherName, 'ERR_TLS_CERT_ALTNAME_INVALID', `the server for ${OTHER_NAME}`, s));

    // ── 3. a reply changed on the way ─────────────────────────────────────────────

    await c.step('waiting for your promise to reject when a byte of the reply is changed on the way', async (s) => {
      const { tampered } = servers;
      const attempt = call(servers.relayPort);
      s.actual = () => `${attempt.describe()}; the server behind the relay got ${tampered.accepted[0]?.rx.describe() ?? 'no finished handshake'}`;
      s.timeoutMessage = 'your client did not send the request through the relay';
      await changed.until(() => {
        if (tampered.accepted[0]?.rx.text.includes('\n')) return true;
        if (attempt.outcome.state !== 'pending') fail(`${attempt.describe()} before the request was sent`);
        return false;
      });
      const side = tampered.accepted[0];
      await record(side.socket, PIECES[0]);
      servers.arm();
      await record(side.socket, PIECES[1]);
      s.timeoutMessage = "a changed record makes your socket emit 'error' (ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC), but your promise never settled: keep an 'error' listener for the whole life of the socket, not only until 'secureConnect'";
      await changed.until(() => attempt.outcome.state !== 'pending');
      const o = attempt.outcome;
      if (o.state === 'resolved') {
        fail(`your promise resolved with ${show(o.value)} after the reply was changed on the way: the socket emitted 'error', and the reply is not whole — reject`, {
          expected: 'a rejection (ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC)',
          actual: `resolved with ${show(o.value)}`,
        });
      }
      s.timeoutMessage =
        "your promise rejected, but your client's socket is still open: after the handshake a TLS error does not close the socket (Node emits 'error' and leaves it open) — call socket.destroy() in your 'error' listener";
      s.actual = () => `${attempt.describe()}; your socket sent no FIN and no reset`;
      await changed.until(servers.learnerGone);
    });

    // ── 4. how it decided ───────────────────────────────────────────────────────

    await c.step('checking that your client trusts only the given CA, with verification on', () => {
      const made = contexts.filter((options): options is tls.SecureContextOptions => options !== undefined);
      const off = made.find((options) => (options as { rejectUnauthorized?: boolean }).rejectUnauthorized === false);
      if (off) {
        fail(
          `your client turned verification off (rejectUnauthorized: false${process.env.NODE_TLS_REJECT_UNAUTHORIZED === '0' ? ', through NODE_TLS_REJECT_UNAUTHORIZED=0' : ''}) and decides for itself: it refused the check's servers, but one forgotten check sends a request to whoever answers — leave rejectUnauthorized true and let Node refuse`,
        );
      }
      const lists = made.map((options) => trusted(options.ca));
      if (lists.length === 0 || lists.every((list) => list === undefined)) {
        fail("your client passed no `ca`: it trusts Node's built-in list of authorities, and any of them could vouch for this server — pass the CA you were given as `ca`");
      }
      for (const list of lists) {
        if (list === undefined) continue;
        const others = list.filter((f) => f !== caFingerprint).length;
        if (others > 0 || !list.includes(caFingerprint)) {
          fail(
            `your client trusts ${others} other certificate authorit${others === 1 ? 'y' : 'ies'} besides the one you were given: a certificate for ${NAME} from any of them would be accepted — pass only the given CA as \`ca\` (it replaces Node's built-in list; do not add tls.rootCertificates)`,
            { expected: '1 authority: the one in `ca`', actual: `${list.length} certificates in \`ca\`${list.includes(caFingerprint) ? ', the given one among them' : ', not the given one'}` },
          );
        }
      }
    });

    // Close the check's side of every connection and let them go (a closed TLS socket frees its
    // state on the next turn), so that nothing of the check is left for the harness to report.
    const all = [servers.real, servers.impostor, servers.otherName, servers.tampered];
    for (const srv of all) for (const { socket } of srv.accepted) socket.destroy();
    await Promise.race([changed.until(() => all.every((srv) => srv.open() === 0)), c.sleep(500)]);
    for (let i = 0; i < 2; i++) await turn();
  } finally {
    tls.createSecureContext = createSecureContext;
    tls.connect = connect;
    if (ENV_AT_START === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = ENV_AT_START;
  }
});

/** Why the first handshake failed on the client's side, from its error. */
function whyRefused(reason: unknown): string {
  const err = reason as NodeJS.ErrnoException;
  const said = `your promise rejected with ${reasonOf(reason)}`;
  switch (err?.code) {
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return `${said}: your client does not trust the check's CA — pass the \`ca\` you were given to tls.connect() (without it Node trusts only its built-in list)`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return /IP: /.test(err.message)
        ? `${said}: your client checked the certificate against the address ${HOST}, which it does not carry — pass the name as \`servername\``
        : `${said}: your client checked the certificate against another name — pass the \`servername\` you were given`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ECONNREFUSED':
      return `${said}: connect to ${HOST} and the port you were given; ${NAME} is the name in the certificate (servername), not a host you can reach`;
    default:
      return `${said} during the handshake with the real server`;
  }
}

// A relay on the path between a client and a server, like any router on the
// internet: it copies the bytes of each TCP connection both ways. It has no
// keys, so of a TLS conversation it can read only the 5-byte header in front
// of each record (its type and length) and the handshake messages sent before
// encryption starts. The lesson uses it to watch the handshake on the wire,
// to add a delay (a far-away server), and to change a byte on the way.
import net from 'node:net';

/** Who sent a chunk. */
export type From = 'client' | 'server';

/** One chunk as the relay saw it arrive. */
export interface WireChunk {
  from: From;
  bytes: number;
  /** the records that start in this chunk, by name (e.g. 'ClientHello', 'ccs', 'encrypted') */
  records: string[];
}

export interface RelayOptions {
  /** how long each chunk waits before it is passed on, in both directions (a far-away peer) */
  delayMs?: number;
  /** told about every chunk as it arrives */
  onChunk?: (chunk: WireChunk) => void;
  /** may return other bytes to pass on instead (an attacker changing the data) */
  alter?: (data: Buffer, chunk: WireChunk) => Buffer;
}

// Record content types (RFC 8446 §5.1) and the first handshake messages.
const CHANGE_CIPHER_SPEC = 20;
const ALERT = 21;
const HANDSHAKE = 22;
const APPLICATION_DATA = 23;
const HANDSHAKE_MESSAGES: Record<number, string> = {
  1: 'ClientHello',
  2: 'ServerHello',
  4: 'NewSessionTicket',
  11: 'Certificate',
  12: 'ServerKeyExchange',
  14: 'ServerHelloDone',
  16: 'ClientKeyExchange',
};
/** Record header (type, version, length) plus the first byte of the body. */
const PEEK = 6;

/**
 * Reads the record headers of one direction of a TLS connection, however TCP
 * cuts the stream: a header may arrive in two chunks, a record in many.
 */
export class RecordReader {
  #head = Buffer.alloc(0);
  /** body bytes of the current record still to skip */
  #skip = 0;
  /** after ChangeCipherSpec, handshake records are encrypted too (TLS 1.2) */
  #encrypted = false;
  #notTls = false;

  /** The names of the records that start in this chunk. */
  push(chunk: Buffer): string[] {
    const names: string[] = [];
    let at = 0;
    while (at < chunk.length && !this.#notTls) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - at);
        this.#skip -= n;
        at += n;
        continue;
      }
      const need = PEEK - this.#head.length;
      this.#head = Buffer.concat([this.#head, chunk.subarray(at, at + need)]);
      at += Math.min(need, chunk.length - at);
      if (this.#head.length < PEEK) break;
      const type = this.#head[0];
      if (type < CHANGE_CIPHER_SPEC || type > APPLICATION_DATA) {
        this.#notTls = true; // plain text, e.g. nc or an HTTP request sent to a TLS port
        names.push('not TLS');
        break;
      }
      names.push(this.#name(type, this.#head[5]));
      this.#skip = this.#head.readUInt16BE(3) - 1; // the first body byte was read already
      this.#head = Buffer.alloc(0);
    }
    return names;
  }

  #name(type: number, firstByte: number): string {
    if (type === CHANGE_CIPHER_SPEC) {
      this.#encrypted = true;
      return 'ccs';
    }
    if (type === APPLICATION_DATA || this.#encrypted) return 'encrypted';
    if (type === ALERT) return 'alert';
    if (type === HANDSHAKE) return HANDSHAKE_MESSAGES[firstByte] ?? 'handshake';
    return `type ${type}`;
  }
}

/**
 * "ServerHello, ccs, 4 encrypted": record names with repeats counted;
 * `short` gives "ServerHello ccs enc×4" for a timeline row.
 */
export function describeRecords(records: readonly string[], short = false): string {
  const groups: { name: string; count: number }[] = [];
  for (const name of records) {
    const last = groups.at(-1);
    if (last?.name === name) last.count += 1;
    else groups.push({ name, count: 1 });
  }
  if (groups.length === 0) return short ? 'more of a record' : 'the rest of a record';
  if (short) return groups.map((g) => `${g.name === 'encrypted' ? 'enc' : g.name}${g.count > 1 ? `×${g.count}` : ''}`).join(' ');
  return groups.map((g) => (g.count > 1 ? `${g.count} ${g.name}` : g.name)).join(', ');
}

/**
 * Consecutive chunks from the same side, merged: one "flight" each. Each
 * change of direction in a handshake is half a round trip.
 */
export function flights(chunks: readonly WireChunk[]): { from: From; bytes: number; records: string[] }[] {
  const out: { from: From; bytes: number; records: string[] }[] = [];
  for (const chunk of chunks) {
    const last = out.at(-1);
    if (last?.from === chunk.from) {
      last.bytes += chunk.bytes;
      last.records.push(...chunk.records);
    } else {
      out.push({ from: chunk.from, bytes: chunk.bytes, records: [...chunk.records] });
    }
  }
  return out;
}

/**
 * A TCP relay to the server at target: every connection it accepts is copied
 * to a new connection to the server, both ways, chunk by chunk. It respects
 * back-pressure (a side that cannot take more stops the other side's reading)
 * and a reset on one side resets the other.
 */
export function createRelay(target: { port: number; host: string }, options: RelayOptions = {}): net.Server {
  // allowHalfOpen: after one side's FIN the other direction keeps flowing until its own FIN.
  return net.createServer({ allowHalfOpen: true }, (client) => {
    const server = net.connect({ port: target.port, host: target.host, allowHalfOpen: true });
    copy(client, server, 'client', options);
    copy(server, client, 'server', options);
  });
}

function copy(from: net.Socket, to: net.Socket, side: From, options: RelayOptions): void {
  const reader = new RecordReader();
  const delay = options.delayMs ?? 0;
  const later = (fn: () => void) => (delay > 0 ? setTimeout(fn, delay) : fn());
  from.on('data', (data: Buffer) => {
    const chunk: WireChunk = { from: side, bytes: data.length, records: reader.push(data) };
    options.onChunk?.(chunk);
    const out = options.alter ? options.alter(data, chunk) : data;
    later(() => {
      if (!to.destroyed && !to.write(out)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
  });
  from.on('end', () => later(() => to.end()));
  // One side reset or failed: reset the other too, as a broken path would.
  from.on('error', () => later(() => (to.destroyed ? undefined : to.resetAndDestroy())));
}

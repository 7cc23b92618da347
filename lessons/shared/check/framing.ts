// Framing helpers for checks of decoders, echo servers and Nagle.
import type net from 'node:net';

export interface Chunking {
  /** how the bytes were cut, e.g. "1-byte pieces" or "random split (seed 3)" */
  name: string;
  pieces: Buffer[];
}

/** A small seeded random number generator (mulberry32): the same seed gives the same splits. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cut `bytes` into pieces of 1 to `maxPiece` bytes at random places. */
export function splitRandomly(bytes: Buffer, random: () => number, maxPiece = 7): Buffer[] {
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; ) {
    const size = 1 + Math.floor(random() * maxPiece);
    pieces.push(bytes.subarray(i, i + size));
    i += size;
  }
  return pieces;
}

/**
 * The same messages cut every way TCP may deliver them: one piece per message,
 * all merged into one piece, 1-byte pieces (which split every multi-byte UTF-8
 * character) and `randomSplits` seeded random splits. A framing check feeds
 * each chunking and asserts only the reassembled messages.
 */
export function chunkings(messages: readonly (string | Uint8Array)[], options: { randomSplits?: number; seed?: number } = {}): Chunking[] {
  const parts = messages.map((m) => (typeof m === 'string' ? Buffer.from(m) : Buffer.from(m)));
  const all = Buffer.concat(parts);
  const out: Chunking[] = [
    { name: 'one piece per message', pieces: parts },
    { name: 'all messages merged into one piece', pieces: [all] },
    { name: '1-byte pieces', pieces: [...all].map((b) => Buffer.from([b])) },
  ];
  const seed = options.seed ?? 1;
  for (let i = 0; i < (options.randomSplits ?? 3); i += 1) {
    out.push({ name: `random split (seed ${seed + i})`, pieces: splitRandomly(all, seededRandom(seed + i)) });
  }
  return out;
}

/** The pieces of the chunking called `name` in `cuts` (one of the names chunkings() gives). */
export function piecesOf(cuts: readonly Chunking[], name: string): Buffer[] {
  const found = cuts.find((c) => c.name === name);
  if (!found) throw new Error(`chunkings() made no "${name}"`);
  return found.pieces;
}

/**
 * Write pieces one at a time, each after the previous was handed to the
 * kernel, with Nagle off, so they tend to arrive separately. TCP still may
 * merge them: assert only what the receiver reassembles.
 */
export async function writePieces(socket: net.Socket, pieces: readonly Buffer[]): Promise<void> {
  socket.setNoDelay(true);
  for (const piece of pieces) {
    await new Promise<void>((resolve, reject) => socket.write(piece, (err) => (err ? reject(err) : resolve())));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}


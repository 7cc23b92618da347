// Values, bytes and addresses as the learner should read them.
import type net from 'node:net';

export function firstLine(text: string): string {
  return text.split('\n')[0];
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';
}

export function formatAddress(address: string | net.AddressInfo | null): string {
  if (address === null) return '(not listening)';
  if (typeof address === 'string') return address;
  return address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB (${n} B)`;
  if (n >= 1024) return `${(n / 1024).toFixed(n % 1024 === 0 ? 0 : 1)} KiB (${n} B)`;
  return `${n} B`;
}

/** A value as the learner would write it: texts quoted with \n visible, long ones cut. */
export function show(value: unknown, max = 120): string {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    const buf = Buffer.from(value);
    const text = buf.toString('utf8');
    if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/.test(text)) {
      const hex = buf.subarray(0, 32).toString('hex').replace(/(..)/g, '$1 ').trim();
      return `<${buf.length} B: ${hex}${buf.length > 32 ? ' …' : ''}>`;
    }
    return `${show(text, max)} (${buf.length} B)`;
  }
  if (typeof value === 'string') {
    const quoted = JSON.stringify(value);
    return quoted.length > max ? `${quoted.slice(0, max - 1)}…" (${value.length} characters)` : quoted;
  }
  if (Array.isArray(value)) return `[${value.map((v) => show(v, 40)).join(', ')}]`;
  return describeValue(value);
}

export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'function') return `a function (${value.name || 'anonymous'})`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value !== 'object') return String(value);
  const name = (value as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}


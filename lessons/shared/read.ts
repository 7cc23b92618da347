// Reading helpers for lesson clients and tests. They wait for events, never
// for a fixed time, because TCP may deliver bytes in any number of chunks.
import { once, type EventEmitter } from 'node:events';
import type net from 'node:net';
import { StringDecoder } from 'node:string_decoder';

/** Everything the peer sends until its FIN ('end'), as one Buffer. */
export async function readAll(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer | string) => chunks.push(Buffer.from(chunk)));
  await once(socket, 'end');
  return Buffer.concat(chunks);
}

/** Read text until `done(text)` is true; resolves with all text read so far. */
export function readUntil(socket: net.Socket, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    // A decoder keeps a multi-byte character that was split across chunks whole.
    const decoder = new StringDecoder('utf8');
    const onData = (chunk: Buffer | string) => {
      text += typeof chunk === 'string' ? chunk : decoder.write(chunk);
      if (done(text)) finish();
    };
    const onEnd = () => finish(new Error(`peer ended before the expected text arrived; got ${JSON.stringify(text)}`));
    const onError = (err: Error) => finish(err);
    const finish = (err?: Error) => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      if (err) reject(err);
      else resolve(text);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
  });
}

/**
 * Resolves on 'close' with its hadError flag. 'close' always comes last, error
 * or not, while events.once(socket, 'close') would reject on an 'error' first.
 * A stream that has closed already resolves at once: its 'close' will not come again.
 */
export function closed(socket: EventEmitter): Promise<boolean> {
  const stream = socket as EventEmitter & { closed?: boolean; errored?: unknown };
  if (stream.closed === true) return Promise.resolve(stream.errored != null);
  return new Promise((resolve) => socket.once('close', (hadError?: boolean) => resolve(hadError === true)));
}

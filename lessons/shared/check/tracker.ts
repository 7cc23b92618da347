// What the learner's code opens (servers, sockets, other handles), so that a
// timed-out step can say what was still open and the check can close it all.
import dc from 'node:diagnostics_channel';
import type dgram from 'node:dgram';
import net from 'node:net';
import { formatAddress, plural } from './format.ts';

// ── tracking what the learner's code opens ────────────────────────────────

interface ListenRequest {
  port?: number;
  host?: string;
  path?: string;
}

export class Tracker {
  readonly servers = new Set<net.Server>();
  readonly listenCalls = new Map<net.Server, ListenRequest>();
  readonly sockets = new Set<net.Socket>();
  /** every socket connect() was called on while the check ran, in order, closed ones too */
  readonly connected: net.Socket[] = [];
  /** UDP sockets, from the 'udp.socket' channel (dgram.createSocket publishes every one) */
  readonly udpSockets = new Set<dgram.Socket>();
  readonly names = new WeakMap<object, string>();
  /** errors thrown asynchronously by the learner's code (or unhandled 'error' events) */
  onAsyncError?: (err: unknown) => void;
  pendingAsyncError?: unknown;
  #originalListen = net.Server.prototype.listen;
  #originalConnect = net.Socket.prototype.connect;
  #onServerSocket = (message: unknown) => this.#addSocket((message as { socket: net.Socket }).socket);
  #onUdpSocket = (message: unknown) => {
    const socket = (message as { socket: dgram.Socket }).socket;
    this.udpSockets.add(socket);
    socket.once('close', () => this.udpSockets.delete(socket));
  };
  #onRejection = (err: unknown) => this.#asyncError(err);

  install(): void {
    const tracker = this;
    const original = this.#originalListen;
    net.Server.prototype.listen = function listen(this: net.Server, ...args: unknown[]) {
      tracker.servers.add(this);
      tracker.listenCalls.set(this, parseListenArgs(args));
      return (original as (...a: unknown[]) => net.Server).apply(this, args);
    } as typeof original;
    // Every client socket connects through here (net.connect, tls.connect, new net.Socket().connect()).
    // The 'net.client.socket' channel is not enough: on Node 20 only net.connect() publishes to it.
    const connect = this.#originalConnect;
    net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
      if (!tracker.sockets.has(this)) tracker.connected.push(this);
      tracker.#addSocket(this);
      return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
    } as typeof connect;
    dc.subscribe('net.server.socket', this.#onServerSocket);
    dc.subscribe('udp.socket', this.#onUdpSocket);
    process.setUncaughtExceptionCaptureCallback((err) => this.#asyncError(err));
    process.on('unhandledRejection', this.#onRejection);
  }

  uninstall(): void {
    net.Server.prototype.listen = this.#originalListen;
    net.Socket.prototype.connect = this.#originalConnect;
    dc.unsubscribe('net.server.socket', this.#onServerSocket);
    dc.unsubscribe('udp.socket', this.#onUdpSocket);
    process.setUncaughtExceptionCaptureCallback(null);
    process.off('unhandledRejection', this.#onRejection);
  }

  #addSocket(socket: net.Socket): void {
    if (this.sockets.has(socket)) return;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  #asyncError(err: unknown): void {
    if (this.onAsyncError) this.onAsyncError(err);
    else this.pendingAsyncError ??= err;
  }

  name(thing: object, name: string): void {
    this.names.set(thing, name);
  }

  /** Close every server and destroy every socket opened during the check, and wait until they are closed. */
  async cleanup(): Promise<void> {
    const closing: Promise<unknown>[] = [];
    for (const socket of this.sockets) {
      // Resets caused by our own destroy() must not count as the learner's errors.
      socket.on('error', () => {});
      if (!socket.destroyed) closing.push(new Promise((resolve) => socket.once('close', resolve)));
      socket.destroy();
    }
    for (const server of this.servers) {
      server.on('error', () => {});
      if (server.listening) closing.push(new Promise((resolve) => server.close(resolve)));
    }
    for (const socket of this.udpSockets) {
      socket.on('error', () => {});
      try {
        socket.close();
        closing.push(new Promise((resolve) => socket.once('close', resolve)));
      } catch {
        // Already closed: its 'close' has been emitted.
        this.udpSockets.delete(socket);
      }
    }
    // Closing is immediate on loopback; the bound only protects against the unexpected.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(closing), new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
    clearTimeout(timer);
  }

  /** Wait a few turns of the event loop for closed handles to leave the active list. */
  async settle(baseline: Map<string, number>): Promise<void> {
    for (let turn = 0; turn < 20; turn += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      if (!resourceDiff(baseline, 0).some((r) => r.startsWith('TCP') || r.startsWith('Pipe') || r.startsWith('UDP'))) return;
    }
  }

  /** Plain-words list of what is open right now, for a timed-out step. */
  openReport(baseline: Map<string, number>, ownTimers: number): string[] {
    const lines: string[] = [];
    for (const server of this.servers) {
      const name = this.names.get(server) ?? 'your server';
      const accepted = [...this.sockets].filter((s) => (s as net.Socket & { server?: net.Server }).server === server && !s.destroyed);
      if (server.listening) {
        lines.push(`${name}, listening on ${formatAddress(server.address())}, ${plural(accepted.length, 'open connection')}`);
      } else if (accepted.length > 0) {
        lines.push(`${name}, no longer listening (close() was called) but still holding ${plural(accepted.length, 'open connection')}: its 'close' waits for them`);
      }
    }
    for (const socket of this.sockets) {
      if (socket.destroyed) continue;
      lines.push(describeSocket(socket, this.names.get(socket)));
    }
    for (const socket of this.udpSockets) {
      let where = 'not bound yet';
      try {
        where = `bound to ${formatAddress(socket.address())}`;
      } catch {
        // address() throws until the socket is bound.
      }
      lines.push(`${this.names.get(socket) ?? 'a UDP socket'}, ${where} (close() not called)`);
    }
    const handles = resourceDiff(baseline, ownTimers);
    if (handles.length > 0) lines.push(`handles: ${handles.join(', ')}`);
    return lines;
  }
}

function describeSocket(socket: net.Socket, name?: string): string {
  const accepted = (socket as net.Socket & { server?: net.Server | null }).server != null; // client sockets have server = null
  const label = name ?? (accepted ? `a connection your server accepted (client port ${socket.remotePort})` : `a client socket to port ${socket.remotePort}`);
  const state = [
    socket.writableEnded ? 'end() called' : 'end() not called',
    socket.readableEnded ? "got the peer's FIN" : "no FIN from the peer yet",
    `${socket.bytesRead} B read`,
    `${socket.bytesWritten} B passed to write()`,
  ];
  return `${label}: ${state.join(', ')}`;
}

function parseListenArgs(args: unknown[]): ListenRequest {
  const [first, second] = args;
  if (first !== null && typeof first === 'object') {
    const options = first as { port?: unknown; host?: unknown; path?: unknown };
    if (typeof options.path === 'string') return { path: options.path };
    return { port: Number(options.port ?? 0), host: typeof options.host === 'string' ? options.host : undefined };
  }
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    return { port: Number(first), host: typeof second === 'string' ? second : undefined };
  }
  if (typeof first === 'string') return { path: first };
  return { port: 0 };
}

/**
 * Counts of active handles by type, e.g. { TCPSocketWrap: 2, Timeout: 1 }.
 * Requests that end by themselves are left out (file-system requests, the
 * close and shutdown requests of sockets being closed, and immediates, which
 * run once on the next turn): most are the loader's and the harness's own,
 * and none of them is a leak.
 */
export function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) {
    if (!/^(FSReq|CloseReq|ShutdownWrap|WriteWrap|Immediate)/.test(type)) counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  return counts;
}

/** Handles open now that were not open at `baseline`, minus the harness's own timers. */
export function resourceDiff(baseline: Map<string, number>, ownTimers: number): string[] {
  const out: string[] = [];
  for (const [type, count] of resourceCounts()) {
    const extra = count - (baseline.get(type) ?? 0) - (type === 'Timeout' ? ownTimers : 0);
    if (extra > 0) out.push(`${type} ×${extra}`);
  }
  return out;
}


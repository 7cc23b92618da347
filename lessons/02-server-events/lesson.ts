// Lesson 02 — the four events of a server: 'listening', 'connection', 'close' and 'error'.
// Run: npm run lesson 02        (or: npm run lesson 02 -- --serve)
import { once } from 'node:events';
import net from 'node:net';
import { clientTarget, finishConnection, listening, serve, type LessonOptions } from '../shared/cli.ts';
import { readUntil } from '../shared/read.ts';
import { Timeline } from '../shared/timeline.ts';

/** Echoes every byte back, so a client can check that its connection still works. */
export function createEchoServer(): net.Server {
  return net.createServer((socket) => {
    // Without an 'error' listener a client that resets would crash the process.
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      // write() returns false once the echo waiting to be sent passes the high-water mark:
      // the client is not reading it. Stop reading until it has drained (lesson 04 shows why).
      if (!socket.write(chunk)) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    });
  });
}

/**
 * net.Server does not keep a list of its connections, and it has no
 * closeAllConnections() (http.Server has). So keep the list yourself.
 */
export function trackSockets(server: net.Server): Set<net.Socket> {
  const open = new Set<net.Socket>();
  server.on('connection', (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return open;
}

/**
 * Stop the server gracefully: stop accepting, let each connection finish the
 * reply it is sending, then end it, and resolve on the server's 'close'. A
 * connection still open graceMs later is destroyed, so a client that never
 * reads or never closes its side cannot hold the shutdown for ever.
 */
export function closeGracefully(server: net.Server, sockets: Set<net.Socket>, graceMs = 2000): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      for (const socket of sockets) socket.destroy();
    }, graceMs);
    // close() stops accepting at once; its callback runs on 'close', after the last connection.
    server.close((err) => {
      clearTimeout(deadline);
      if (err) reject(err);
      else resolve();
    });
    // finishConnection() (lessons/shared/cli.ts, what --serve does on Ctrl-C) takes the 'data'
    // handlers away, so nothing is written after end(); keeps reading and dropping what the
    // client still sends (closing with unread bytes would send a reset); then calls end(),
    // whose FIN goes out after the last byte of the reply in flight, or at once if idle.
    for (const socket of sockets) finishConnection(socket);
  });
}

export async function main(opts: LessonOptions): Promise<void> {
  const server = createEchoServer();
  const sockets = trackSockets(server);
  const timeline = new Timeline({ live: opts.serve });
  server.on('listening', () => timeline.server('listening', where(server)));
  // Prepended, so the timeline sees the socket before the echo handler does.
  server.prependListener('connection', (socket) => {
    timeline.server('connection', `from port ${socket.remotePort}`);
    if (opts.serve) timeline.watch(socket, 'server', ['data', 'end', 'close'], `:${socket.remotePort}`);
  });
  server.on('close', () => timeline.server('close', 'the server itself'));
  if (opts.serve) return serve(server, opts);

  server.listen(opts.port, opts.host);
  const { address: bound, port } = await listening(server);
  const address = clientTarget(bound); // where this script's clients connect

  // A second server on the same port: the OS refuses, and Node emits 'error' on the next tick.
  const second = net.createServer();
  second.listen(port, bound);
  timeline.server('2nd listen()', `same port ${port}`);
  const [busy] = (await once(second, 'error')) as [NodeJS.ErrnoException];
  timeline.server('2nd error', `${busy.code} (${busy.syscall})`);

  // Connect one client and wait for both ends: the client's 'connect' and the server's 'connection'.
  async function connectClient(name: string): Promise<[net.Socket, net.Socket]> {
    const client = net.connect(port, address);
    client.once('connect', () => timeline.client(`${name} connect`, `local port ${client.localPort}`));
    timeline.watch(client, 'client', ['data', 'end', 'close'], name);
    const [[accepted]] = await Promise.all([once(server, 'connection'), once(client, 'connect')]);
    timeline.watch(accepted as net.Socket, 'server', ['data', 'end', 'close'], name);
    return [client, accepted as net.Socket];
  }
  const [a, fromA] = await connectClient('A');
  const [b, fromB] = await connectClient('B');

  // B leaves; wait until the server's socket for B is closed too.
  b.end();
  await once(fromB, 'close');

  // close() with A still open: the server stops accepting at once, but 'close' waits for A.
  timeline.server('close()', `${sockets.size} connection still open`);
  server.close();

  const c = net.connect(port, address);
  timeline.watch(c, 'client', ['connect', 'error', 'close'], 'C');
  const [refused] = (await once(c, 'error')) as [NodeJS.ErrnoException];

  // A's connection still works after close().
  a.write('still there?');
  await readUntil(a, (text) => text === 'still there?');

  // net.Server has no closeAllConnections(): finish the sockets we tracked ourselves.
  for (const socket of sockets) finishConnection(socket);
  await Promise.all([once(server, 'close'), once(fromA, 'close'), once(a, 'close')]);

  console.log(timeline.render());
  console.log(`\nA second server on port ${port} got '${busy.code}' from ${busy.syscall}(), as an 'error' event.`);
  console.log(`After close(), client C was refused (${refused.code}) while A still got its echo.`);
  const serverRows = timeline.names('server');
  const first = serverRows.indexOf('close') < serverRows.indexOf('A close') ? 'just before' : 'after';
  console.log(`The server's 'close' came once its last socket (A's) was gone, ${first} that socket's own 'close'.`);
  console.log(`In the server column, A and B name the server's socket for that client.`);
}

function where(server: net.Server): string {
  const address = server.address();
  return typeof address === 'string' ? address : `${address?.address}:${address?.port}`;
}

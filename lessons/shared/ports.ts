// Ports where nothing listens, for the lessons, the tests and the checks.
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';

/**
 * Ports for listen(0) and for outgoing connections come from the system's
 * ephemeral range: 32768–60999 on Linux, 49152–65535 on macOS and Windows,
 * 10000–65535 on FreeBSD. A port below all of them is never handed out that
 * way, so no other test, check or client can take it while we use it.
 */
const LOW = 5000;
const HIGH = 9999;

/** Listen on `port` and close again; false if something else has it (or we may not). */
async function free(port: number, host: string): Promise<boolean> {
  const server = net.createServer();
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (err) {
    // No IPv6 on this machine (no ::1, or no IPv6 at all): nobody can listen on ::1 either.
    const code = (err as NodeJS.ErrnoException).code;
    return host === '::1' && (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT');
  }
  await new Promise((resolve) => server.close(resolve));
  return true;
}

/** Bind a UDP socket to `port` and close it again; false if something else has it. */
async function freeUdp(port: number, host: string): Promise<boolean> {
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  socket.bind(port, host);
  try {
    await once(socket, 'listening');
  } catch {
    return false;
  }
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return true;
}

function randomLowPort(): number {
  return LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
}

/**
 * A port on 127.0.0.1 (and ::1) that nothing listens on, and that stays so:
 * it lies outside the ephemeral range. A port that listen(0) chose and close()
 * released can be taken again at once by any other program, or by a test
 * running beside this one, and the "refused" connect then meets a server.
 */
export async function refusedPort(): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const port = randomLowPort();
    if ((await free(port, '127.0.0.1')) && (await free(port, '::1'))) return port;
  }
  throw new Error(`no free port between ${LOW} and ${HIGH} on 127.0.0.1`);
}

/** A UDP port on `host` where no socket is bound, and none will be: outside the ephemeral range too. */
export async function unboundUdpPort(host = '127.0.0.1'): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const port = randomLowPort();
    if (await freeUdp(port, host)) return port;
  }
  throw new Error(`no free UDP port between ${LOW} and ${HIGH} on ${host}`);
}

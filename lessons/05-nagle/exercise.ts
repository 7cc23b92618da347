// Exercise 05 · A request that does not stall
//
// Lesson 05's client sends each request in two pieces, write('ping ') and
// then write('2\n'), and from the second request on each one waits about
// 40 ms: Nagle's algorithm holds the second piece back until the first is
// acknowledged, and the server delays that ACK because it cannot answer half
// a request.
//
// Write sendRequest(socket, head, body). The check calls it once per request,
// on the same connected socket every time, with head 'ping ' and body '<n>\n'.
// It must:
//   1. send head, then body: the server must receive exactly head + body, in
//      that order, and nothing more;
//   2. hand both to the socket before it returns (the check counts the bytes
//      right after the call);
//   3. leave the connection open for the next request (no end(), no destroy());
//   4. not stall: the check sends 8 more requests through your function and
//      the same requests as two plain write() calls on clients of its own. A
//      request stalled when the server got the head, and the body only in a
//      later read, after waiting for its delayed ACK. Two plain writes stall;
//      yours may stall at most 2 times in 8 (a busy machine can delay a
//      round now and then; the check also measures once more before a no).
//
// The socket arrives connected, with Nagle on (the default). Lesson 05 shows
// three ways out; any of them passes. (The noDelay option of net.connect()
// only helps when you create the socket yourself: here the check did.)
// Where two plain writes do not stall either (it depends on the operating
// system's timers), the check skips that step and checks the bytes only.
//
// Check your work: npm run check 05      Stuck? npm run hint 05
import net from 'node:net';

export function sendRequest(socket: net.Socket, head: string, body: string): void {
  // TODO: send head, then body, so that the server gets the whole request
  // without the second piece waiting for an ACK.
}

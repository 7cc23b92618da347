// Exercise 00 · How did it end? A connection probe
//
// Lesson 00 showed the three ways a connection ends: the peer's FIN (a clean
// end), an RST in the middle (a reset), and an RST in answer to the SYN
// (nobody listens: refused). Write probe(target, request), a client that says
// which one happened. It must:
//   1. connect with net.connect(target), passing the target as it is (it may
//      hold more than host and port, such as a `lookup` function);
//   2. send the request, then end() its side: the servers answer only after
//      your FIN;
//   3. keep the text that arrives, as a string (UTF-8: a character may be cut
//      between two chunks, so decode with care);
//   4. settle once the connection is over, not earlier and not later: the
//      socket emits 'close' last, always (after 'end', after 'error'). Never
//      wait a fixed time;
//   5. resolve with how it ended:
//        { how: 'ended', received }  the peer sent `received`, then its FIN
//                                    (received may be '': a FIN without a word);
//        { how: 'reset', received }  the peer reset the connection (code
//                                    'ECONNRESET') after sending `received`;
//        { how: 'refused' }          nothing listens there (code 'ECONNREFUSED');
//      any other error (for example a host name that does not resolve,
//      'ENOTFOUND'): reject with that very error;
//   6. tell the errors apart by err.code, never by err.message: connecting to
//      a name with two addresses (localhost on most machines: ::1 and
//      127.0.0.1) fails with an AggregateError whose message is empty;
//   7. keep each call's state inside the call: the check runs two probes at once.
//
// Check your work: npm run check 00      Stuck? npm run hint 00
import net from 'node:net';

export type Ending =
  | { how: 'ended'; received: string }
  | { how: 'reset'; received: string }
  | { how: 'refused' };

export function probe(target: net.TcpNetConnectOpts, request: string): Promise<Ending> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(target);
    // TODO: send the request, then end your side.
    // TODO: keep the text that arrives.
    // TODO: remember the 'error', if one comes (err.code says which).
    // TODO: on 'close', settle: resolve with how it ended, or reject with any other error.
  });
}

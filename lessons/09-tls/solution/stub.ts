// Exercise 09 · A TLS client that trusts only its CA
//
// A server on HOST:port speaks TLS with a certificate for `servername`, issued
// by the certificate authority `ca` (PEM text). It reads one request line and
// answers with a reply of several lines, then ends. Write the client:
// fetchSecurely({ port, servername, ca, request }). It must:
//   1. connect with tls.connect() to HOST (127.0.0.1) and `port`;
//   2. trust `ca` and no other authority: pass it as the `ca` option, which
//      replaces Node's built-in list of CAs. Never turn verification off (no
//      rejectUnauthorized: false, no NODE_TLS_REJECT_UNAUTHORIZED) and never
//      add other authorities to the list;
//   3. check that the certificate is for `servername`: pass it as the
//      `servername` option. Without it Node checks the address 127.0.0.1,
//      which is not in the certificate. (`servername` is not a host you can
//      connect to: connect to HOST.)
//   4. send `request` only to a server that passed both checks. Node holds
//      what you write until the handshake is done and, unless verification
//      is off, never sends it to a server it refused;
//   5. resolve with the whole reply as one string, only on 'end' (the
//      server's close_notify and FIN): it comes in several records, one
//      'data' event each, and a record may end in the middle of a multi-byte
//      UTF-8 character (like '€' or '👋');
//   6. reject when the socket emits 'error', for the whole life of the
//      socket, with Node's error (keep its `code`): a refused certificate
//      (UNABLE_TO_VERIFY_LEAF_SIGNATURE, ERR_TLS_CERT_ALTNAME_INVALID) and a
//      reply changed on the way (ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC)
//      are 'error' events, before or after 'secureConnect'. Then destroy()
//      the socket: after the handshake, a TLS error leaves it open.
//
// Check your work: npm run check 09      Stuck? npm run hint 09
import tls from 'node:tls';

export const HOST = '127.0.0.1';

export interface SecureRequest {
  port: number;
  /** the name the server's certificate must carry */
  servername: string;
  /** the PEM certificate of the only authority to trust */
  ca: string;
  /** one line, ending in '\n' */
  request: string;
}

export function fetchSecurely({ port, servername, ca, request }: SecureRequest): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: HOST, port });
    // TODO: trust only `ca` and check `servername` (both are options of tls.connect).
    // TODO: send the request; keep every 'data' chunk; on 'end', resolve with the whole reply as text.
    // TODO: on 'error', reject with that error and destroy the socket.
  });
}

// Exercise 08 · Read one HTTP request
//
// TCP delivers chunks, not requests. One 'data' event may hold half a head,
// or a head and part of its body, or three requests and the start of a
// fourth (a client may send several requests in one write: pipelining).
// Write a RequestReader that gets the requests back out of the chunks,
// however they were cut, as lesson 08's server does.
//
// One RequestReader serves one connection: `new RequestReader(maxHeadBytes,
// maxBodyBytes)`. push(chunk) is called with each chunk in turn and returns
// the requests that this chunk completes (none, one or many), in order, each
// as { method, target, headers, body }. It must:
//   1. end a request's head at the first \r\n\r\n. The head is text, one byte
//      per character (decode it with 'latin1'): the request line
//      `METHOD target HTTP/1.1`, then one `Name: value` line per header.
//   2. put the headers in an object with the names in lower case (HTTP names
//      are case-insensitive: Content-Length, content-length and
//      CONTENT-LENGTH are one header), and each value without the spaces and
//      tabs around it.
//   3. take the body as exactly Content-Length bytes (bytes, not characters),
//      starting with the bytes that came in the same chunk as the head. It may
//      hold any bytes, \r\n\r\n included. No Content-Length: an empty body.
//      Return the body as a Buffer.
//   4. keep whatever follows a request: it is the start of the next one.
//   5. refuse what HTTP refuses, by throwing a RequestError (below) with the
//      status code HTTP has for it:
//        431  a head over maxHeadBytes bytes (\r\n\r\n included). Throw as soon
//             as an unfinished head is over the limit: do not wait for a
//             \r\n\r\n that may never come.
//        400  a Content-Length that is not digits only ('0x10', '1e3', '', '-1').
//        413  a Content-Length over maxBodyBytes, as soon as the head is
//             complete: before any of the body arrives.
//   6. keep its state in the object: two RequestReaders (two connections) at
//      once must not mix their bytes;
//   7. take time in proportion to the bytes: do not copy or search again, at
//      every push(), all the bytes you hold. (A head is small: at most
//      maxHeadBytes. A body can be large.)
//
// The check feeds the same requests cut every way (one per chunk, all in one
// chunk, one byte at a time, at random places), then over a real socket, then
// the limits, then thousands of pipelined requests and a 2 MiB body in small
// pieces.
//
// Check your work: npm run check 08      Stuck? npm run hint 08

export interface Request {
  method: string;
  /** the request target as sent: '/hello?x=1' */
  target: string;
  /** names in lower case */
  headers: Record<string, string>;
  body: Buffer;
}

/** A request HTTP refuses: `status` is 400, 413 or 431. */
export class RequestError extends Error {
  override name = 'RequestError';

  constructor(readonly status: 400 | 413 | 431, message: string) {
    super(message);
  }
}

export class RequestReader {
  readonly maxHeadBytes: number;
  readonly maxBodyBytes: number;
  // TODO: keep, between two push() calls, the bytes of a request that is not complete yet.

  constructor(maxHeadBytes = 16 * 1024, maxBodyBytes = 64 * 1024) {
    this.maxHeadBytes = maxHeadBytes;
    this.maxBodyBytes = maxBodyBytes;
  }

  push(chunk: Buffer): Request[] {
    const requests: Request[] = [];
    // TODO: find the end of the head (\r\n\r\n); read the request line and the headers.
    // TODO: take Content-Length bytes of body; what follows is the next request.
    // TODO: throw a RequestError (431, 400 or 413) as described above.
    return requests;
  }
}

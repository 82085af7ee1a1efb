import type http from 'node:http';
import { AwsError } from './errors';

/**
 * After refusing a request whose body was not read, at most this much more of it is drained and
 * thrown away (so a client that is still writing a modest body reads the answer rather than a
 * reset connection), then the connection is closed.
 */
const LINGER_BYTES = 1024 * 1024;
const LINGER_MS = 1000;

/** A request body over its service's cap: answered without reading the rest. */
export const tooLarge = (limit: number) =>
  new AwsError(
    'RequestEntityTooLarge',
    `The request body is larger than this service accepts (${limit} bytes).`,
    413,
  );

const incomplete = () =>
  new AwsError('IncompleteBody', 'The request body ended before it was complete.', 400);

/** True when the request announces a body (a length above 0, or chunked). */
export function bodyPending(headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Reads the body up to `limit` bytes. A declared Content-Length over the limit is refused before
 * a byte is read; a chunked body is refused as soon as it passes the limit. Either way the
 * caller must answer with `closeAfterReply`, which never reads the rest.
 */
export function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        stop();
        req.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    const onError = () => {
      stop();
      reject(incomplete());
    };
    const onClose = () => {
      if (req.complete) return;
      stop();
      reject(incomplete());
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * Marks the reply `Connection: close` and, once it is sent, closes the connection after draining
 * at most LINGER_BYTES of what the client is still sending (or LINGER_MS): a refused body is
 * never read in full, and closing at once could reset the connection before the client reads
 * the refusal.
 */
export function closeAfterReply(req: http.IncomingMessage, res: http.ServerResponse): void {
  res.setHeader('connection', 'close');
  res.once('finish', () => {
    const socket = req.socket;
    let drained = 0;
    const cut = () => socket.destroy();
    const timer = setTimeout(cut, LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    req.on('data', (c: Buffer) => {
      drained += c.length;
      if (drained > LINGER_BYTES) cut();
    });
    req.on('error', cut);
    req.resume();
  });
}

/** The URL's query as SignatureV4 wants it (repeated keys as arrays). */
export function queryOf(url: URL): Record<string, string | string[]> {
  const q: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const prev = q[k];
    q[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return q;
}

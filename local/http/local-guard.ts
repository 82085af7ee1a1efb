import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { LocalCloudError } from '../errors';
import { type SecretLookup, SigV4Error, verifySigV4 } from './sigv4';

/** Where a browser keeps the token once a page has been opened with it. */
export const TOKEN_COOKIE = 'credflow_token';
/** The query parameter a first browser visit may carry the token in. */
export const TOKEN_QUERY = 'credflow_token';
/** The query parameter a first browser visit carries a one-time login code in. */
export const CODE_QUERY = 'credflow_code';

/** How a caller of a local route proved who it is. */
export type LocalAuth = 'bearer' | 'cookie' | 'query' | 'code' | 'sigv4';

/** A local route refused: 403 for a foreign Host or Origin, 401 for missing or wrong credentials. */
export class LocalAccessError extends LocalCloudError {
  override name = 'LocalAccessError' as const;
  constructor(
    readonly status: 401 | 403,
    readonly code: 'ForbiddenHost' | 'ForbiddenOrigin' | 'Unauthorized',
    message: string,
  ) {
    super(message);
  }
}

export interface LocalGuardOptions {
  /** The token `credflow up` prints. */
  token: string;
  /** The local access keys: a SigV4 signature with one of them is accepted too. */
  secretFor: SecretLookup;
  /** The cloud's region, which a signature's scope must name. */
  region: string;
  /** Spends a one-time login code (LoginCodes.redeem): true when it was valid. */
  redeemCode?: (code: string) => boolean;
}

export type LocalGuard = (req: IncomingMessage) => Promise<LocalAuth>;

const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$/i;

/**
 * True when a Host header names this machine's loopback (127.0.0.1, localhost or [::1], with or
 * without a port). A page on another site that rebinds its own DNS name to 127.0.0.1 still sends
 * its own name here, so this is what stops DNS rebinding.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  return host !== undefined && LOOPBACK_HOST.test(host.trim());
}

/**
 * An Origin header (sent by browsers) must be the console's own origin: this endpoint's port on
 * a loopback name, over http (the endpoint speaks nothing else). Another local page (a dev
 * server on localhost:3000, a second cloud on another port) is a foreign site; `null` origins
 * are refused.
 */
function isOwnOrigin(origin: string, ownPort: number | undefined): boolean {
  try {
    const u = new URL(origin);
    const port = u.port === '' ? 80 : Number(u.port);
    return u.protocol === 'http:' && isLoopbackHost(u.host) && ownPort !== undefined && port === ownPort;
  } catch {
    return false;
  }
}

function sameSecret(a: string, b: string): boolean {
  // Hashing first gives equal lengths, so the comparison takes the same time whatever `a` is.
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

const unauthorized = () =>
  new LocalAccessError(
    401,
    'Unauthorized',
    'This route needs the token `credflow up` printed (Authorization: Bearer <token>) or a SigV4 signature.',
  );

/**
 * The one gate of every `/_credflow/*` route (and of a later web console's pages and static
 * files): the Host header must be loopback, a browser's Origin the endpoint's own, and the caller must show the
 * token `credflow up` printed (`Authorization: Bearer`, the `credflow_token` cookie or query
 * parameter, or a one-time `credflow_code` a token holder obtained) or a valid SigV4 signature scoped to the cloud's region. It reads headers only,
 * never the body, so a route may refuse before reading one; signed requests must be bodiless
 * (GET/HEAD), since the signature covers the body. Resolves with how the caller authenticated
 * (a console answering a `query` or `code` login sets the cookie); rejects with `LocalAccessError`.
 */
export function localGuard(opts: LocalGuardOptions): LocalGuard {
  return async (req) => {
    if (!isLoopbackHost(header(req, 'host'))) {
      throw new LocalAccessError(
        403,
        'ForbiddenHost',
        'Local routes answer only to Host 127.0.0.1, localhost or [::1].',
      );
    }
    const origin = header(req, 'origin');
    if (origin !== undefined && !isOwnOrigin(origin, req.socket?.localPort)) {
      throw new LocalAccessError(
        403,
        'ForbiddenOrigin',
        "Local routes answer only to the console's own pages (this endpoint's origin).",
      );
    }
    const authorization = header(req, 'authorization');
    if (authorization?.startsWith('AWS4-HMAC-SHA256 ')) return verifySigned(req, opts);
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (bearer !== undefined) {
      if (sameSecret(bearer, opts.token)) return 'bearer';
      throw unauthorized();
    }
    const fromCookie = cookie(header(req, 'cookie'), TOKEN_COOKIE);
    if (fromCookie !== undefined && sameSecret(fromCookie, opts.token)) return 'cookie';
    const params = new URL(req.url ?? '/', 'http://localhost').searchParams;
    const fromQuery = params.get(TOKEN_QUERY);
    if (fromQuery !== null && sameSecret(fromQuery, opts.token)) return 'query';
    const code = params.get(CODE_QUERY);
    if (code !== null && opts.redeemCode?.(code)) return 'code';
    throw unauthorized();
  };
}

async function verifySigned(req: IncomingMessage, opts: LocalGuardOptions): Promise<LocalAuth> {
  const length = header(req, 'content-length');
  if (header(req, 'transfer-encoding') !== undefined || (length !== undefined && length !== '0')) {
    throw new LocalAccessError(401, 'Unauthorized', 'A signed request to a local route must have no body.');
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
  const url = new URL(req.url ?? '/', 'http://localhost');
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  try {
    await verifySigV4(
      { method: req.method ?? 'GET', path: decodePath(url.pathname), query, headers, body: Buffer.alloc(0) },
      opts.secretFor,
      { region: opts.region },
    );
  } catch (err) {
    if (err instanceof SigV4Error) throw new LocalAccessError(401, 'Unauthorized', err.message);
    throw err;
  }
  return 'sigv4';
}

/** The path as signed: SigV4 signers encode the decoded path themselves. */
export function decodePath(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}

/**
 * The `Set-Cookie` value that keeps a browser logged in after a `?credflow_token=` visit:
 * HttpOnly (no script reads it) and SameSite=Strict (no other site's page sends it).
 */
export function tokenCookie(token: string): string {
  return `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`;
}

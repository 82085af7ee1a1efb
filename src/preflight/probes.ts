/**
 * The network probes of a preflight: name resolution, a TCP connection and the engine's own TLS
 * negotiation, each bounded by a deadline. They speak only as much of the database protocols as
 * it takes to reach a TLS handshake (PostgreSQL's SSLRequest, MySQL's SSL request packet), so
 * they need no credentials and send none.
 */
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import tls from 'node:tls';
import type { EngineFamily } from '../engines/types';

/** A probe that did not finish in its time; what it means depends on the hop. */
export class DeadlineError extends Error {
  override name = 'DeadlineError' as const;
  constructor(
    what: string,
    readonly ms: number,
  ) {
    super(`${what}: no answer within ${ms} ms`);
  }
}

/**
 * Runs `fn` for at most `ms`: the signal aborts it and the promise rejects with DeadlineError,
 * whether or not `fn` heeds the signal, so no hop ever outlives its budget.
 */
export async function withDeadline<T>(
  ms: number,
  what: string,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new DeadlineError(what, ms));
    }, ms);
  });
  try {
    return await Promise.race([fn(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The addresses a host name resolves to; an IP literal is its own answer. */
export async function resolveHost(
  host: string,
  ms: number,
): Promise<{ addresses: string[]; literal: boolean }> {
  if (net.isIP(host)) return { addresses: [host], literal: true };
  const found = await withDeadline(ms, `resolve ${host}`, () => lookup(host, { all: true }));
  return { addresses: found.map((a) => a.address), literal: false };
}

/** Opens a TCP connection (resolves once connected) or fails with the socket's error. */
function openSocket(address: string, port: number, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port });
    const abort = () => socket.destroy();
    signal.addEventListener('abort', abort, { once: true });
    socket.once('connect', () => {
      signal.removeEventListener('abort', abort);
      resolve(socket);
    });
    socket.once('error', (err) => {
      signal.removeEventListener('abort', abort);
      socket.destroy();
      reject(err);
    });
  });
}

/** Connects and closes at once: is anything listening, and may we reach it? */
export async function probeTcp(address: string, port: number, ms: number): Promise<void> {
  await withDeadline(ms, `connect to ${address}:${port}`, async (signal) => {
    const socket = await openSocket(address, port, signal);
    socket.destroy();
  });
}

/** What a TLS negotiation with a database server showed. */
export type TlsFinding =
  | { offered: false }
  | {
      offered: true;
      protocol: string;
      cipher: string;
      /** The certificate chain and host name verify against the trust given. */
      authorized: boolean;
      /** Node's reason when not authorized (SELF_SIGNED_CERT_IN_CHAIN, ERR_TLS_CERT_ALTNAME_INVALID...). */
      authorizationError: string | undefined;
      subject: string | undefined;
      issuer: string | undefined;
      validTo: string | undefined;
    };

/** The server refused the connection before any TLS (a MySQL error greeting: host blocked...). */
export class ServerRefusal extends Error {
  override name = 'ServerRefusal' as const;
}

/** Reads from a socket until `want` bytes have arrived (or the socket ends or fails). */
function readBytes(socket: net.Socket, want: (buf: Buffer) => number | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const n = want(buf);
      if (n !== undefined && buf.length >= n) {
        cleanup();
        resolve(buf.subarray(0, n));
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new Error(`the server closed the connection after ${buf.length} bytes`));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onError);
  });
}

/** PostgreSQL's SSLRequest: length 8, code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** True when the server answers the SSLRequest with 'S' (TLS follows), false for 'N'. */
async function postgresOffersTls(socket: net.Socket): Promise<boolean> {
  socket.write(SSL_REQUEST);
  const [answer] = await readBytes(socket, () => 1);
  if (answer === 0x53) return true;
  if (answer === 0x4e) return false;
  throw new Error(`unexpected answer to SSLRequest (0x${(answer ?? 0).toString(16)}): is this PostgreSQL?`);
}

const CLIENT_LONG_PASSWORD = 0x1;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SSL = 0x800;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH = 0x80000;
const UTF8MB4_GENERAL_CI = 45;

/** Reads MySQL's greeting; if it offers TLS, sends the SSL request packet that starts it. */
async function mysqlOffersTls(socket: net.Socket): Promise<boolean> {
  // A packet: 3-byte little-endian payload length, 1-byte sequence id, payload.
  const packet = await readBytes(socket, (b) => (b.length >= 4 ? 4 + b.readUIntLE(0, 3) : undefined));
  const payload = packet.subarray(4);
  if (payload[0] === 0xff) {
    // An error instead of a greeting: 2-byte code, then (4.1 protocol) '#' and a 5-char SQL state.
    const text = payload.subarray(payload[3] === 0x23 ? 9 : 3).toString('utf8');
    throw new ServerRefusal(`the server refused the connection: ${text}`);
  }
  if (payload[0] !== 10) throw new Error(`unexpected greeting (protocol ${payload[0]}): is this MySQL?`);
  // Protocol version, NUL-terminated server version, 4-byte thread id, 8 bytes of scramble,
  // 1 filler byte, then the low two bytes of the capability flags.
  const flagsAt = payload.indexOf(0, 1) + 1 + 4 + 8 + 1;
  if ((payload.readUInt16LE(flagsAt) & CLIENT_SSL) === 0) return false;
  const request = Buffer.alloc(4 + 32);
  request.writeUIntLE(32, 0, 3);
  request[3] = 1;
  request.writeUInt32LE(
    CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH,
    4,
  );
  request.writeUInt32LE(0x01000000, 8);
  request[12] = UTF8MB4_GENERAL_CI;
  socket.write(request);
  return true;
}

/** A certificate field may repeat (two CNs); the first names it well enough. */
const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** Upgrades an open socket to TLS and reads what the handshake established. */
function handshake(
  socket: net.Socket,
  host: string,
  ca: string | Buffer | string[] | undefined,
): Promise<Extract<TlsFinding, { offered: true }>> {
  return new Promise((resolve, reject) => {
    // Never rejected here: verification is reported, so a bad certificate is described, not hidden.
    const secure = tls.connect({
      socket,
      rejectUnauthorized: false,
      ...(net.isIP(host) ? {} : { servername: host }),
      ...(ca ? { ca } : {}),
    });
    secure.once('secureConnect', () => {
      const cert = secure.getPeerCertificate();
      const err = secure.authorizationError as unknown as Error | string | null;
      resolve({
        offered: true,
        protocol: secure.getProtocol() ?? 'unknown',
        cipher: secure.getCipher()?.name ?? 'unknown',
        authorized: secure.authorized,
        authorizationError: err ? String((err as { code?: string }).code ?? err) : undefined,
        subject: first(cert?.subject?.CN),
        issuer: first(cert?.issuer?.CN ?? cert?.issuer?.O),
        validTo: cert?.valid_to,
      });
      secure.destroy();
    });
    secure.once('error', (e) => {
      secure.destroy();
      reject(e);
    });
  });
}

/**
 * Opens a connection and negotiates TLS the way the engine's driver does; reports whether the
 * server offers TLS and, if so, what it presented and whether it verifies against `ca` (or
 * Node's store, extended by NODE_EXTRA_CA_CERTS).
 */
export async function probeTls(
  family: EngineFamily,
  target: { host: string; address: string; port: number },
  ms: number,
  ca?: string | Buffer | string[],
): Promise<TlsFinding> {
  return withDeadline(ms, `TLS with ${target.host}:${target.port}`, async (signal) => {
    const socket = await openSocket(target.address, target.port, signal);
    try {
      const offered = family === 'postgres' ? await postgresOffersTls(socket) : await mysqlOffersTls(socket);
      if (!offered) return { offered: false };
      return await handshake(socket, target.host, ca);
    } finally {
      socket.destroy();
    }
  });
}

import { chmodSync, chownSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { findOpenssl } from './binaries';
import { type RunAs, runCommand } from './process';

export interface TlsFiles {
  cert: string;
  key: string;
}

/**
 * A self-signed certificate for 127.0.0.1/localhost, made once per data directory and reused on
 * restart, so the servers *offer* TLS and engines can exercise their TLS preference. Nothing
 * verifies it: engines accept unverified certificates only on loopback. Undefined when
 * `openssl` is not installed (the server then runs without TLS).
 */
export async function ensureSelfSignedCert(dir: string, owner: RunAs): Promise<TlsFiles | undefined> {
  const files = { cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') };
  if (existsSync(files.cert) && existsSync(files.key)) return files;
  const openssl = findOpenssl();
  if (!openssl) return undefined;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // EC P-256: generated in milliseconds where RSA takes a noticeable fraction of a second.
  await runCommand(
    openssl,
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      files.key,
      '-out',
      files.cert,
      '-days',
      '3650',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { cwd: dir, runAs: { groups: [] }, timeoutMs: 30_000, what: 'openssl (self-signed certificate)' },
  );
  // PostgreSQL refuses a key readable by others and, as a non-root server, needs to own it.
  chmodSync(files.key, 0o600);
  if (owner.uid !== undefined) {
    for (const p of [dir, files.cert, files.key]) chownSync(p, owner.uid, owner.gid ?? -1);
  }
  return files;
}

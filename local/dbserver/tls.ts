/**
 * TLS for the local database servers as RDS gives it: a certificate authority of the local RDS's
 * own (RDS has its `rds-ca-*` CAs and publishes their bundle), and for every server a certificate
 * that CA issues for the endpoint host, 127.0.0.1 and localhost. Clients verify it exactly as they
 * verify RDS's, against the CA bundle. Everything here needs `openssl`; without it the servers
 * run without TLS.
 */
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { findOpenssl } from './binaries';
import { type RunAs, runCommand } from './process';

export interface TlsFiles {
  cert: string;
  key: string;
}

/** A certificate authority on disk: its certificate (the bundle clients trust) and its key (0600). */
export interface CertificateAuthority {
  /** PEM of the CA certificate: what NODE_EXTRA_CA_CERTS (or a client's `ca`) names. */
  bundle: string;
  key: string;
}

/** The file names of a CA directory. */
export const CA_BUNDLE_FILE = 'rds-ca-bundle.pem';
const CA_KEY_FILE = 'rds-ca.key';
/** Records which CA issued a server's certificate, so a new CA means a new certificate. */
const ISSUER_FILE = 'issuer.sha256';

const ME: RunAs = { groups: [] };
const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/**
 * The CA in `dir`, made the first time (key 0600, directory 0700) and kept. Two processes making
 * one at once agree on one: each builds it aside and the first rename wins. Undefined when
 * `openssl` is not installed.
 */
export async function ensureCertificateAuthority(dir: string): Promise<CertificateAuthority | undefined> {
  const ca = { bundle: path.join(dir, CA_BUNDLE_FILE), key: path.join(dir, CA_KEY_FILE) };
  if (existsSync(ca.bundle) && existsSync(ca.key)) return ca;
  const openssl = findOpenssl();
  if (!openssl) return undefined;
  mkdirSync(path.dirname(dir), { recursive: true });
  const work = mkdtempSync(`${dir}.new-`);
  try {
    chmodSync(work, 0o700);
    await runCommand(
      openssl,
      [
        'req',
        '-x509',
        ...ecKey,
        '-keyout',
        CA_KEY_FILE,
        '-out',
        CA_BUNDLE_FILE,
        '-days',
        '3650',
        '-subj',
        `/O=credflow local cloud/CN=credflow local RDS CA ${randomBytes(4).toString('hex')}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE,pathlen:0',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      { cwd: work, runAs: ME, timeoutMs: 30_000, what: 'openssl (local RDS certificate authority)' },
    );
    chmodSync(path.join(work, CA_KEY_FILE), 0o600);
    chmodSync(path.join(work, CA_BUNDLE_FILE), 0o600);
    try {
      renameSync(work, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return ca;
}

function fingerprintOf(pemFile: string): string {
  return createHash('sha256').update(readFileSync(pemFile)).digest('hex');
}

/**
 * A server's certificate and key in `dir`, issued by `ca` for 127.0.0.1 and localhost, made once
 * and again whenever the CA changes (or the directory still holds a certificate from before the
 * local RDS had a CA). Owned by the server's OS user, key 0600: PostgreSQL refuses anything else.
 */
export async function ensureServerCertificate(
  dir: string,
  owner: RunAs,
  ca: CertificateAuthority,
): Promise<TlsFiles | undefined> {
  const files = { cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') };
  const issuer = fingerprintOf(ca.bundle);
  const issuerFile = path.join(dir, ISSUER_FILE);
  const current =
    existsSync(files.cert) && existsSync(files.key) && existsSync(issuerFile)
      ? readFileSync(issuerFile, 'utf8').trim()
      : undefined;
  if (current === issuer) return files;
  const openssl = findOpenssl();
  if (!openssl) return undefined;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const extensions = path.join(dir, 'server.ext');
  writeFileSync(
    extensions,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const run = (args: string[], what: string) =>
    runCommand(openssl, args, { cwd: dir, runAs: ME, timeoutMs: 30_000, what });
  try {
    await run(
      ['req', '-new', ...ecKey, '-keyout', files.key, '-out', 'server.csr', '-subj', '/CN=localhost'],
      'openssl (server key)',
    );
    await run(
      [
        'x509',
        '-req',
        '-in',
        'server.csr',
        '-CA',
        ca.bundle,
        '-CAkey',
        ca.key,
        '-set_serial',
        `0x${randomBytes(16).toString('hex')}`,
        '-days',
        '825',
        '-extfile',
        extensions,
        '-out',
        files.cert,
      ],
      'openssl (server certificate)',
    );
  } finally {
    rmSync(path.join(dir, 'server.csr'), { force: true });
    rmSync(extensions, { force: true });
  }
  writeFileSync(issuerFile, `${issuer}\n`, { mode: 0o600 });
  chmodSync(files.key, 0o600);
  if (owner.uid !== undefined) {
    for (const p of [dir, files.cert, files.key, issuerFile]) chownSync(p, owner.uid, owner.gid ?? -1);
  }
  return files;
}

/** When a server's certificate stops being valid (RDS's CertificateDetails.ValidTill). */
export function certificateValidTill(certFile: string): Date | undefined {
  try {
    return new Date(new X509Certificate(readFileSync(certFile)).validTo);
  } catch {
    return undefined;
  }
}

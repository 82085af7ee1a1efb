/**
 * What the test process trusts: the CAs of the database servers it talks to (the test servers'
 * own, each local cloud's RDS CA), gathered in one bundle that NODE_EXTRA_CA_CERTS names, which is
 * how the engines find their trust (src/engines/common.ts) and how a Lambda function finds RDS's.
 * Certificates are verified on loopback as anywhere: a test trusts a CA by naming it here.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CA_BUNDLE_FILE } from '../../local/dbserver/tls';
import { rdsCaDir } from '../../local/rds/servers';

const trusted = new Set<string>();
const bundle = path.join(os.tmpdir(), `credflow-test-trust-${process.pid}.pem`);
let cleanup = false;

/** Adds the PEM file's CAs to what this process trusts (and keeps what NODE_EXTRA_CA_CERTS named). */
export function trustCa(pemFile: string): void {
  const prior = process.env['NODE_EXTRA_CA_CERTS'];
  if (prior && prior !== bundle) {
    try {
      trusted.add(readFileSync(prior, 'utf8').trim());
    } catch {
      // a bundle from a state dir that is gone
    }
  }
  trusted.add(readFileSync(pemFile, 'utf8').trim());
  writeFileSync(bundle, `${[...trusted].join('\n')}\n`, { mode: 0o600 });
  process.env['NODE_EXTRA_CA_CERTS'] = bundle;
  if (!cleanup) {
    cleanup = true;
    process.once('exit', () => rmSync(bundle, { force: true }));
  }
}

/** The bundle of a state dir's local RDS CA (made when a cloud first starts on it). */
export function rdsCaBundleOf(stateDir: string): string {
  return path.join(rdsCaDir(stateDir), CA_BUNDLE_FILE);
}

/** Trusts the local RDS of a state dir, as an application given its CA bundle would. */
export function trustLocalRds(stateDir: string): void {
  // No bundle: no openssl, so the servers offer no TLS and there is nothing to trust.
  if (existsSync(rdsCaBundleOf(stateDir))) trustCa(rdsCaBundleOf(stateDir));
}

/** Trusts the CA of a local cloud's RDS (or a server's own), then hands the thing back. */
export function trusting<T extends { rdsCaBundle?: string | undefined } | { caBundle?: string | undefined }>(
  started: T,
): T {
  const bundle =
    'rdsCaBundle' in started ? started.rdsCaBundle : 'caBundle' in started ? started.caBundle : undefined;
  if (bundle) trustCa(bundle);
  return started;
}

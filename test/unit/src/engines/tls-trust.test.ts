/**
 * The TLS trust the engines hand their drivers is built once per set of CAs: a context made from
 * Node's roots plus a CA bundle costs tens of milliseconds of CPU, and made at every login it
 * dominated a rotation (README Benchmarks). Certificates are still verified on every connection.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { tlsOptions } from '../../../../src/engines/common';

let dir: string;
let bundle: string;
// Any PEM certificate will do for building a context: one of Node's own roots.
const PEM = tls.rootCertificates[0] as string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'credflow-trust-'));
  bundle = path.join(dir, 'bundle.pem');
  writeFileSync(bundle, PEM);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tlsOptions', () => {
  it('always verifies, with Node defaults when no extra CA is named', () => {
    const t = tlsOptions({}, {});
    expect(t.rejectUnauthorized).toBe(true);
    expect(t.ca).toBeUndefined();
  });

  it('gives every login of the same CA bundle one options object and one secure context', () => {
    const env = { NODE_EXTRA_CA_CERTS: bundle };
    const a = tlsOptions({}, env);
    const b = tlsOptions({}, env);
    expect(a.rejectUnauthorized).toBe(true);
    expect(a.secureContext).toBeDefined();
    expect(b).toBe(a);
    expect(b.secureContext).toBe(a.secureContext);
  });

  it('builds a new context when the bundle changes, and one per explicit CA', () => {
    const env = { NODE_EXTRA_CA_CERTS: bundle };
    const before = tlsOptions({}, env);
    writeFileSync(bundle, `${PEM}\n${PEM}`);
    const after = tlsOptions({}, env);
    expect(after).not.toBe(before);
    expect(after.secureContext).not.toBe(before.secureContext);
    const explicit = tlsOptions({ tls: { ca: PEM } });
    expect(tlsOptions({ tls: { ca: PEM } })).toBe(explicit);
    expect(explicit.ca).toBe(PEM);
  });
});

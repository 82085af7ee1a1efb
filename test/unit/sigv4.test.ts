import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { type ReceivedRequest, verifySigV4 } from '../../local/http/sigv4';

const KEY = { accessKeyId: 'AKIAEXAMPLE000000000', secretAccessKey: 'example-secret-key' };
const lookup = (id: string) => (id === KEY.accessKeyId ? KEY.secretAccessKey : undefined);
const NOW = new Date('2024-05-01T12:00:00Z');

async function signed(
  headers: Record<string, string>,
  body = '{}',
  opts: { secret?: string; date?: Date; unsignable?: string[] } = {},
): Promise<ReceivedRequest> {
  const signer = new SignatureV4({
    credentials: { ...KEY, secretAccessKey: opts.secret ?? KEY.secretAccessKey },
    region: 'us-east-1',
    service: 'secretsmanager',
    sha256: Sha256,
  });
  const out = await signer.sign(
    { method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port: 4566, path: '/', headers, body },
    { signingDate: opts.date ?? NOW, unsignableHeaders: new Set(opts.unsignable ?? []) },
  );
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(out.headers)) lower[k.toLowerCase()] = String(v);
  return { method: 'POST', path: '/', query: {}, headers: lower, body: Buffer.from(body) };
}

const base = {
  host: '127.0.0.1:4566',
  'content-type': 'application/x-amz-json-1.1',
  'x-amz-target': 'secretsmanager.ListSecrets',
};

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return (err as { code: string }).code;
  }
}

describe('verifySigV4', () => {
  it('accepts a request signed with the right key and returns its scope', async () => {
    await expect(verifySigV4(await signed(base), lookup, NOW)).resolves.toEqual({
      accessKeyId: KEY.accessKeyId,
      region: 'us-east-1',
      service: 'secretsmanager',
    });
  });

  it('rebuilds from SignedHeaders only: headers added or left unsigned by the client do not matter', async () => {
    const req = await signed({ ...base, 'x-extra': 'signed-later?' }, '{}', { unsignable: ['x-extra'] });
    req.headers['x-proxy-added'] = 'anything';
    expect(await code(verifySigV4(req, lookup, NOW))).toBe('ok');
  });

  it('checks a signed payload hash against the body', async () => {
    const req = await signed({ ...base, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' });
    expect(await code(verifySigV4(req, lookup, NOW))).toBe('ok');
    req.body = Buffer.from('{"changed":true}');
    expect(await code(verifySigV4(req, lookup, NOW))).toBe('ok');
    const hashed = await signed(base);
    hashed.headers['x-amz-content-sha256'] = '0'.repeat(64);
    expect(await code(verifySigV4(hashed, lookup, NOW))).toBe('InvalidSignatureException');
  });

  it('refuses a wrong secret, an unknown key, missing auth, a changed signed header', async () => {
    expect(await code(verifySigV4(await signed(base, '{}', { secret: 'nope' }), lookup, NOW))).toBe(
      'InvalidSignatureException',
    );
    expect(await code(verifySigV4(await signed(base), () => undefined, NOW))).toBe(
      'UnrecognizedClientException',
    );
    const unsigned: ReceivedRequest = {
      method: 'POST',
      path: '/',
      query: {},
      headers: base,
      body: Buffer.from('{}'),
    };
    expect(await code(verifySigV4(unsigned, lookup, NOW))).toBe('MissingAuthenticationTokenException');
    const changed = await signed(base);
    changed.headers['x-amz-target'] = 'secretsmanager.DeleteSecret';
    expect(await code(verifySigV4(changed, lookup, NOW))).toBe('InvalidSignatureException');
    const garbled = await signed(base);
    garbled.headers['authorization'] = 'AWS4-HMAC-SHA256 nonsense';
    expect(await code(verifySigV4(garbled, lookup, NOW))).toBe('IncompleteSignatureException');
  });

  it('allows 15 minutes of clock skew either way', async () => {
    const req = await signed(base);
    expect(await code(verifySigV4(req, lookup, new Date(NOW.getTime() + 14 * 60_000)))).toBe('ok');
    expect(await code(verifySigV4(req, lookup, new Date(NOW.getTime() - 14 * 60_000)))).toBe('ok');
    expect(await code(verifySigV4(req, lookup, new Date(NOW.getTime() + 16 * 60_000)))).toBe(
      'InvalidSignatureException',
    );
  });
});

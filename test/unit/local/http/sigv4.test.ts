import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  checkSigV4Headers,
  type ReceivedRequest,
  SigV4Error,
  verifySigV4,
} from '../../../../local/http/sigv4';

const KEY = { accessKeyId: 'AKIAEXAMPLE000000000', secretAccessKey: 'example-secret-key' };
const lookup = (id: string) => (id === KEY.accessKeyId ? KEY.secretAccessKey : undefined);
const NOW = new Date('2024-05-01T12:00:00Z');
const SM = { region: 'us-east-1', service: 'secretsmanager' };

async function signed(
  headers: Record<string, string>,
  body = '{}',
  opts: { secret?: string; date?: Date; unsignable?: string[]; region?: string; service?: string } = {},
): Promise<ReceivedRequest> {
  const signer = new SignatureV4({
    credentials: { ...KEY, secretAccessKey: opts.secret ?? KEY.secretAccessKey },
    region: opts.region ?? 'us-east-1',
    service: opts.service ?? 'secretsmanager',
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

const HASH_OF_EMPTY_OBJECT = '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

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
    await expect(verifySigV4(await signed(base), lookup, SM, NOW)).resolves.toEqual({
      accessKeyId: KEY.accessKeyId,
      region: 'us-east-1',
      service: 'secretsmanager',
    });
  });

  it('rebuilds from SignedHeaders only: headers added or left unsigned by the client do not matter', async () => {
    const req = await signed({ ...base, 'x-extra': 'signed-later?' }, '{}', { unsignable: ['x-extra'] });
    req.headers['x-proxy-added'] = 'anything';
    expect(await code(verifySigV4(req, lookup, SM, NOW))).toBe('ok');
  });

  it('checks a signed payload hash against the body', async () => {
    const hashed = await signed({ ...base, 'x-amz-content-sha256': HASH_OF_EMPTY_OBJECT });
    expect(await code(verifySigV4(hashed, lookup, SM, NOW))).toBe('ok');
    hashed.headers['x-amz-content-sha256'] = '0'.repeat(64);
    expect(await code(verifySigV4(hashed, lookup, SM, NOW))).toBe('InvalidSignatureException');
  });

  it('refuses UNSIGNED-PAYLOAD (S3 only) from its headers alone, as the query protocol names it too', async () => {
    const req = await signed({ ...base, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' });
    expect(() => checkSigV4Headers(req.headers, lookup, SM, NOW)).toThrow(SigV4Error);
    try {
      checkSigV4Headers(req.headers, lookup, SM, NOW);
    } catch (err) {
      expect(err).toMatchObject({
        code: 'InvalidSignatureException',
        query: { code: 'SignatureDoesNotMatch' },
      });
    }
    const streaming = await signed({ ...base, 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' });
    expect(await code(verifySigV4(streaming, lookup, SM, NOW))).toBe('InvalidSignatureException');
  });

  it('requires the scope to name the cloud region and the called service, in AWS words', async () => {
    const east = await signed(base);
    expect(
      await code(verifySigV4(east, lookup, { region: 'eu-west-1', service: 'secretsmanager' }, NOW)),
    ).toBe('InvalidSignatureException');
    await expect(
      verifySigV4(east, lookup, { region: 'eu-west-1', service: 'secretsmanager' }, NOW),
    ).rejects.toThrow("Credential should be scoped to a valid region, not 'us-east-1'. ");
    await expect(verifySigV4(east, lookup, { region: 'us-east-1', service: 'states' }, NOW)).rejects.toThrow(
      "Credential should be scoped to correct service: 'states'. ",
    );
    const both = await signed(base, '{}', { region: 'eu-west-1', service: 'rds' });
    await expect(verifySigV4(both, lookup, SM, NOW)).rejects.toThrow(
      "Credential should be scoped to a valid region, not 'eu-west-1'. Credential should be scoped to correct service: 'secretsmanager'. ",
    );
    // The local routes accept any service, never another region.
    expect(await code(verifySigV4(both, lookup, { region: 'eu-west-1' }, NOW))).toBe('ok');
    expect(await code(verifySigV4(both, lookup, { region: 'us-east-1' }, NOW))).toBe(
      'InvalidSignatureException',
    );
  });

  it('names each failure in both protocols: JSON and query codes', async () => {
    const failures: [Promise<unknown>, string, string][] = [
      [
        verifySigV4({ ...(await signed(base)), headers: base }, lookup, SM, NOW),
        'MissingAuthenticationTokenException',
        'MissingAuthenticationToken',
      ],
      [
        verifySigV4(await signed(base), () => undefined, SM, NOW),
        'UnrecognizedClientException',
        'InvalidClientTokenId',
      ],
      [
        verifySigV4(await signed(base, '{}', { secret: 'nope' }), lookup, SM, NOW),
        'InvalidSignatureException',
        'SignatureDoesNotMatch',
      ],
    ];
    for (const [p, json, query] of failures) {
      await expect(p).rejects.toMatchObject({ code: json, query: { code: query }, status: 403 });
    }
  });

  it('refuses a wrong secret, an unknown key, missing auth, a changed signed header', async () => {
    expect(await code(verifySigV4(await signed(base, '{}', { secret: 'nope' }), lookup, SM, NOW))).toBe(
      'InvalidSignatureException',
    );
    expect(await code(verifySigV4(await signed(base), () => undefined, SM, NOW))).toBe(
      'UnrecognizedClientException',
    );
    const unsigned: ReceivedRequest = {
      method: 'POST',
      path: '/',
      query: {},
      headers: base,
      body: Buffer.from('{}'),
    };
    expect(await code(verifySigV4(unsigned, lookup, SM, NOW))).toBe('MissingAuthenticationTokenException');
    const changed = await signed(base);
    changed.headers['x-amz-target'] = 'secretsmanager.DeleteSecret';
    expect(await code(verifySigV4(changed, lookup, SM, NOW))).toBe('InvalidSignatureException');
    const garbled = await signed(base);
    garbled.headers['authorization'] = 'AWS4-HMAC-SHA256 nonsense';
    expect(await code(verifySigV4(garbled, lookup, SM, NOW))).toBe('IncompleteSignatureException');
  });

  it('allows 15 minutes of clock skew either way', async () => {
    const req = await signed(base);
    expect(await code(verifySigV4(req, lookup, SM, new Date(NOW.getTime() + 14 * 60_000)))).toBe('ok');
    expect(await code(verifySigV4(req, lookup, SM, new Date(NOW.getTime() - 14 * 60_000)))).toBe('ok');
    expect(await code(verifySigV4(req, lookup, SM, new Date(NOW.getTime() + 16 * 60_000)))).toBe(
      'InvalidSignatureException',
    );
  });
});

import { redact } from '../../../src/log';

describe('log redaction', () => {
  it('replaces secret-named keys at any depth and keeps the rest', () => {
    const out = redact({
      user: 'app',
      password: 'x',
      nested: { SecretString: 'y', list: [{ NewPassword: 'z' }] },
    });
    expect(out).toEqual({
      user: 'app',
      password: '[redacted]',
      nested: { SecretString: '[redacted]', list: [{ NewPassword: '[redacted]' }] },
    });
  });
});

import { TokenBucket } from '../../../local/quotas';
import { RATE_QUOTAS, SecretsManagerQuotas } from '../../../local/secretsmanager/quotas';

describe('TokenBucket', () => {
  it('holds one second of tokens, refills at its rate, never past its burst', () => {
    let t = 0;
    const b = new TokenBucket(50, 50, () => t);
    let admitted = 0;
    while (b.take()) admitted++;
    expect(admitted).toBe(50);
    t += 100; // 5 tokens
    admitted = 0;
    while (b.take()) admitted++;
    expect(admitted).toBe(5);
    t += 60_000; // a long idle time still holds only the burst
    admitted = 0;
    while (b.take()) admitted++;
    expect(admitted).toBe(50);
  });
});

describe("Secrets Manager's rate quotas", () => {
  it('every operation is in at most one group; the write group is 50/s', () => {
    const ops = RATE_QUOTAS.flatMap((q) => q.operations);
    expect(new Set(ops).size).toBe(ops.length);
    const writes = RATE_QUOTAS.find((q) => q.operations.includes('PutSecretValue'));
    expect(writes?.perSecond).toBe(50);
    expect(writes?.operations).toEqual(expect.arrayContaining(['UpdateSecret', 'UpdateSecretVersionStage']));
  });

  it('operations of one group share a bucket; rates off admits everything but still counts', () => {
    const settings = { rates: true, limits: true };
    const q = new SecretsManagerQuotas(settings, RATE_QUOTAS, () => 0);
    for (let i = 0; i < 25; i++) q.admit('PutSecretValue');
    for (let i = 0; i < 25; i++) q.admit('UpdateSecret');
    expect(() => q.admit('UpdateSecretVersionStage')).toThrow('Rate exceeded');
    expect(() => q.admit('GetSecretValue')).not.toThrow();
    settings.rates = false;
    expect(() => q.admit('PutSecretValue')).not.toThrow();
    expect(q.calls.get('PutSecretValue')).toBe(26);
    expect(q.throttled.get('UpdateSecretVersionStage')).toBe(1);
  });
});

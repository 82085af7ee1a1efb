import { LoginCodes } from '../../../../local/http/login-codes';

describe('LoginCodes', () => {
  it('a code works once', () => {
    const codes = new LoginCodes();
    const { code, expiresInSeconds } = codes.issue();
    expect(expiresInSeconds).toBe(60);
    expect(code).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(codes.redeem(code)).toBe(true);
    expect(codes.redeem(code)).toBe(false);
    expect(codes.redeem('made-up')).toBe(false);
  });

  it('a code expires unused after its time to live', () => {
    let now = 1_000_000;
    const codes = new LoginCodes(60_000, () => now);
    const late = codes.issue().code;
    const inTime = codes.issue().code;
    now += 60_000;
    expect(codes.redeem(inTime)).toBe(true);
    now += 1;
    expect(codes.redeem(late)).toBe(false);
  });
});

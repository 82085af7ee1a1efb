import {
  DIGITS,
  generatePassword,
  LOWERCASE,
  PUNCTUATION,
  UPPERCASE,
} from '../../../../local/secretsmanager/password';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as { code: string }).code;
  }
  return 'no error';
}

const has = (p: string, set: string) => [...p].some((c) => set.includes(c));

describe('GetRandomPassword rules', () => {
  it("uses AWS's punctuation set", () => {
    expect(PUNCTUATION).toBe('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
    expect(PUNCTUATION).toHaveLength(32);
  });

  it('defaults to 32 characters with one of each type, no space', () => {
    for (let i = 0; i < 200; i++) {
      const p = generatePassword();
      expect(p).toHaveLength(32);
      expect(has(p, UPPERCASE) && has(p, LOWERCASE) && has(p, DIGITS) && has(p, PUNCTUATION)).toBe(true);
      expect(p).not.toContain(' ');
    }
  });

  it('requires each included type even at the shortest length', () => {
    for (let i = 0; i < 500; i++) {
      const p = generatePassword({ PasswordLength: 4 });
      expect(has(p, UPPERCASE) && has(p, LOWERCASE) && has(p, DIGITS) && has(p, PUNCTUATION)).toBe(true);
    }
  });

  it('never uses excluded characters or types', () => {
    const exclude = '/@"\'\\:';
    for (let i = 0; i < 200; i++) {
      const p = generatePassword({ PasswordLength: 64, ExcludeCharacters: exclude, ExcludeUppercase: true });
      expect([...p].some((c) => exclude.includes(c))).toBe(false);
      expect(has(p, UPPERCASE)).toBe(false);
    }
    expect(
      generatePassword({ ExcludeNumbers: true, ExcludePunctuation: true, ExcludeLowercase: true }),
    ).toMatch(/^[A-Z]{32}$/);
  });

  it('adds the space only when asked', () => {
    const pools = Array.from({ length: 50 }, () =>
      generatePassword({ PasswordLength: 200, IncludeSpace: true }),
    ).join('');
    expect(pools).toContain(' ');
  });

  it('drops a type whose characters are all excluded instead of failing', () => {
    const p = generatePassword({ PasswordLength: 20, ExcludeCharacters: DIGITS });
    expect(has(p, DIGITS)).toBe(false);
    expect(p).toHaveLength(20);
  });

  it('with RequireEachIncludedType=false, any length from 1 works', () => {
    expect(generatePassword({ PasswordLength: 1, RequireEachIncludedType: false })).toHaveLength(1);
  });

  it('refuses impossible settings with AWS error codes', () => {
    expect(
      codeOf(() =>
        generatePassword({
          ExcludeNumbers: true,
          ExcludePunctuation: true,
          ExcludeUppercase: true,
          ExcludeLowercase: true,
        }),
      ),
    ).toBe('InvalidParameterException');
    expect(codeOf(() => generatePassword({ PasswordLength: 3 }))).toBe('InvalidParameterException');
    expect(codeOf(() => generatePassword({ PasswordLength: 0 }))).toBe('ValidationException');
    expect(codeOf(() => generatePassword({ PasswordLength: 4097 }))).toBe('ValidationException');
    expect(generatePassword({ PasswordLength: 4096 })).toHaveLength(4096);
  });

  it('draws from the random source it is given (crypto.randomInt by default)', () => {
    const p = generatePassword({ PasswordLength: 8, RequireEachIncludedType: false }, () => 0);
    expect(p).toBe('AAAAAAAA');
  });
});

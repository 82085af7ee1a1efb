import { randomInt } from 'node:crypto';
import { invalidParameter, validationError } from '../http/errors';

/** AWS's punctuation set for GetRandomPassword. */
export const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
export const UPPERCASE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
export const LOWERCASE = 'abcdefghijklmnopqrstuvwxyz';
export const DIGITS = '0123456789';

export interface PasswordOptions {
  PasswordLength?: number | undefined;
  ExcludeCharacters?: string | undefined;
  ExcludeNumbers?: boolean | undefined;
  ExcludePunctuation?: boolean | undefined;
  ExcludeUppercase?: boolean | undefined;
  ExcludeLowercase?: boolean | undefined;
  IncludeSpace?: boolean | undefined;
  RequireEachIncludedType?: boolean | undefined;
}

/**
 * GetRandomPassword with AWS's defaults: 32 characters from upper, lower, digits and
 * punctuation, at least one of each included type, crypto-random, no space unless asked.
 * A type whose every character is excluded counts as excluded.
 */
export function generatePassword(
  opts: PasswordOptions = {},
  rand: (max: number) => number = randomInt,
): string {
  const length = opts.PasswordLength ?? 32;
  if (!Number.isInteger(length) || length < 1 || length > 4096) {
    throw validationError(
      `1 validation error detected: Value '${length}' at 'passwordLength' failed to satisfy constraint: Member must have value between 1 and 4096`,
    );
  }
  const excluded = new Set(opts.ExcludeCharacters ?? '');
  const keep = (chars: string) => [...chars].filter((c) => !excluded.has(c)).join('');
  const types = [
    opts.ExcludeUppercase ? '' : keep(UPPERCASE),
    opts.ExcludeLowercase ? '' : keep(LOWERCASE),
    opts.ExcludeNumbers ? '' : keep(DIGITS),
    opts.ExcludePunctuation ? '' : keep(PUNCTUATION),
  ].filter((t) => t.length > 0);
  const space = opts.IncludeSpace && !excluded.has(' ') ? ' ' : '';
  const pool = types.join('') + space;
  if (pool.length === 0) {
    throw invalidParameter('The password can\u2019t be generated: every character type is excluded.');
  }
  const requireEach = opts.RequireEachIncludedType ?? true;
  const out: string[] = [];
  if (requireEach) {
    if (length < types.length) {
      throw invalidParameter(
        `PasswordLength ${length} is too short to include at least one character of each of the ${types.length} included types.`,
      );
    }
    for (const t of types) out.push(t[rand(t.length)]!);
  }
  while (out.length < length) out.push(pool[rand(pool.length)]!);
  // Fisher-Yates, so the required characters are not always in front.
  for (let i = out.length - 1; i > 0; i--) {
    const j = rand(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out.join('');
}

import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createFileExclusive } from './store/files';

export interface LocalCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export const CREDENTIALS_FILE = 'credentials.json';
const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * The one access key the local endpoint accepts. Made on first start and kept in the state dir
 * (0600), so an `export AWS_ACCESS_KEY_ID=...` a user pasted keeps working across restarts.
 */
export function loadOrCreateCredentials(stateDir: string): LocalCredentials {
  const file = path.join(stateDir, CREDENTIALS_FILE);
  if (!existsSync(file)) {
    let id = 'AKIA';
    while (id.length < 20) id += KEY_ALPHABET[randomInt(KEY_ALPHABET.length)];
    const fresh: LocalCredentials = {
      accessKeyId: id,
      secretAccessKey: randomBytes(30).toString('base64').replace(/[+/]/g, 'x').slice(0, 40),
    };
    createFileExclusive(file, `${JSON.stringify(fresh, null, 2)}\n`, 0o600);
  }
  const c = JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalCredentials>;
  if (typeof c.accessKeyId !== 'string' || typeof c.secretAccessKey !== 'string') {
    throw new Error(`${file} is not a credentials file`);
  }
  return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey };
}

export const TOKEN_FILE = 'token';

/**
 * The token that opens the `/_credflow/*` routes (and a later web console) to callers without a
 * SigV4 signer: 256 random bits, made once per state dir and kept there 0600 beside the
 * credentials, so `CREDFLOW_TOKEN` a user exported keeps working across restarts.
 */
export function loadOrCreateToken(stateDir: string): string {
  const file = path.join(stateDir, TOKEN_FILE);
  if (!existsSync(file)) createFileExclusive(file, `${randomBytes(32).toString('base64url')}\n`, 0o600);
  return readToken(stateDir);
}

/** The token of a state dir whose cloud has started at least once. */
export function readToken(stateDir: string): string {
  const file = path.join(stateDir, TOKEN_FILE);
  const token = readFileSync(file, 'utf8').trim();
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) throw new Error(`${file} is not a credflow token file`);
  return token;
}

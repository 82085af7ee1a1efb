import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { LocalCloudError } from '../errors';
import type { Store } from './db';
import { createFileExclusive } from './files';

/** The KMS key id Secrets Manager uses when a secret names none. */
export const DEFAULT_KMS_KEY_ID = 'alias/aws/secretsmanager';
export const ROOT_KEY_FILE = 'root.key';

const FORMAT = 1;
const IV_LEN = 12;
const TAG_LEN = 16;

/** Decryption failed: wrong key, wrong AAD or a damaged blob. Carries no plaintext. */
export class DecryptionError extends LocalCloudError {
  override name = 'DecryptionError' as const;
}

function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV_LEN);
  const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LEN });
  c.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([Buffer.from([FORMAT]), iv, c.getAuthTag(), body]);
}

function open(key: Buffer, blob: Buffer, aad: string): Buffer {
  if (blob.length < 1 + IV_LEN + TAG_LEN || blob[0] !== FORMAT)
    throw new DecryptionError('unknown ciphertext format');
  const iv = blob.subarray(1, 1 + IV_LEN);
  const tag = blob.subarray(1 + IV_LEN, 1 + IV_LEN + TAG_LEN);
  const d = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LEN });
  d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(tag);
  try {
    return Buffer.concat([d.update(blob.subarray(1 + IV_LEN + TAG_LEN)), d.final()]);
  } catch {
    throw new DecryptionError('ciphertext does not authenticate');
  }
}

/**
 * Envelope encryption standing in for KMS: a root key in a 0600 file wraps one random data key
 * per KMS key id (stored wrapped in the database); data keys encrypt values with AES-256-GCM and
 * an AAD chosen by the caller, so a ciphertext moved to another row does not decrypt.
 */
export class Keyring {
  private readonly cache = new Map<string, Buffer>();

  private constructor(
    private readonly store: Store,
    private readonly rootKey: Buffer,
  ) {}

  static open(store: Store): Keyring {
    store.migrate('keyring', [
      {
        id: '001-data-keys',
        up: `CREATE TABLE kms_data_keys (
          key_id TEXT PRIMARY KEY, wrapped BLOB NOT NULL, created_at INTEGER NOT NULL)`,
      },
    ]);
    return new Keyring(store, loadOrCreateRootKey(store.dir));
  }

  encrypt(kmsKeyId: string, plaintext: Buffer, aad: string): Buffer {
    return seal(this.dataKey(kmsKeyId), plaintext, aad);
  }

  decrypt(kmsKeyId: string, blob: Buffer, aad: string): Buffer {
    return open(this.dataKey(kmsKeyId), blob, aad);
  }

  private dataKey(kmsKeyId: string): Buffer {
    const cached = this.cache.get(kmsKeyId);
    if (cached) return cached;
    const aad = `credflow-data-key:${kmsKeyId}`;
    const key = this.store.tx(() => {
      const select = this.store.db.prepare('SELECT wrapped FROM kms_data_keys WHERE key_id = ?');
      if (!select.get(kmsKeyId)) {
        // OR IGNORE: another process sharing the state dir may have made this key meanwhile.
        this.store.db
          .prepare('INSERT OR IGNORE INTO kms_data_keys (key_id, wrapped, created_at) VALUES (?, ?, ?)')
          .run(kmsKeyId, seal(this.rootKey, randomBytes(32), aad), Date.now());
      }
      const row = select.get(kmsKeyId) as { wrapped: Buffer };
      return open(this.rootKey, row.wrapped, aad);
    });
    this.cache.set(kmsKeyId, key);
    return key;
  }
}

function loadOrCreateRootKey(stateDir: string): Buffer {
  const file = path.join(stateDir, ROOT_KEY_FILE);
  if (!existsSync(file)) createFileExclusive(file, `${randomBytes(32).toString('base64')}\n`, 0o600);
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new Error(`${file} does not hold a 256-bit key`);
  return key;
}

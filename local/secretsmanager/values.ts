import { timingSafeEqual } from 'node:crypto';
import { AwsError, invalidParameter, resourceNotFound } from '../http/errors';
import type { LocalLogger } from '../log';
import { DecryptionError, type Keyring } from '../store/keyring';
import type { VersionRow } from './store';

/** A secret value as stored: its kind and its bytes (UTF-8 for a string). */
export interface SecretValue {
  kind: 'string' | 'binary';
  bytes: Buffer;
}

/** The value a request carries, if any; both kinds at once is AWS's InvalidParameterException. */
export function requestValue(input: {
  SecretString?: string | undefined;
  SecretBinary?: Uint8Array | undefined;
}): SecretValue | undefined {
  if (input.SecretString !== undefined && input.SecretBinary !== undefined) {
    throw invalidParameter(
      "You can't specify both a binary secret value and a string secret value in the same secret.",
    );
  }
  if (input.SecretString !== undefined)
    return { kind: 'string', bytes: Buffer.from(input.SecretString, 'utf8') };
  if (input.SecretBinary !== undefined) return { kind: 'binary', bytes: Buffer.from(input.SecretBinary) };
  return undefined;
}

export function sameValue(a: SecretValue, b: SecretValue): boolean {
  return a.kind === b.kind && a.bytes.length === b.bytes.length && timingSafeEqual(a.bytes, b.bytes);
}

/** Binds a ciphertext to its secret, version and kind: a blob moved to another row fails to open. */
function aad(arn: string, versionId: string, kind: string): string {
  return `secretsmanager\n${arn}\n${versionId}\n${kind}`;
}

/** Encrypts a version's value under the secret's KMS key id. */
export function seal(
  keyring: Keyring,
  kmsKeyId: string,
  arn: string,
  versionId: string,
  value: SecretValue,
): Buffer {
  return keyring.encrypt(kmsKeyId, value.bytes, aad(arn, versionId, value.kind));
}

/** A version's value; a blob that does not decrypt is AWS's DecryptionFailure (and logged, without it). */
export function unseal(keyring: Keyring, logger: LocalLogger, v: VersionRow): SecretValue {
  if (v.kind === null || v.ciphertext === null) throw resourceNotFound('The version has no value.');
  try {
    return {
      kind: v.kind,
      bytes: keyring.decrypt(v.kms_key_id, v.ciphertext, aad(v.secret_arn, v.version_id, v.kind)),
    };
  } catch (err) {
    if (!(err instanceof DecryptionError)) throw err;
    logger.error('secret value does not decrypt', { secretArn: v.secret_arn, versionId: v.version_id });
    throw new AwsError(
      'DecryptionFailure',
      "Secrets Manager can't decrypt the protected secret text using the provided KMS key.",
    );
  }
}

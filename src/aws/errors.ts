/**
 * The SDK adapter: AWS service errors become the typed errors the state machines Retry and Catch
 * on (TransientError for throttling, timeouts and 5xx; NotFoundError; ValidationError for RDS
 * parameter faults), so no core module inspects an SDK error itself.
 */
import { ResourceNotFoundException } from '@aws-sdk/client-secrets-manager';
import { AccessDeniedError, NotFoundError, TransientError, ValidationError } from '../errors';

/** Translates SDK failures into our typed errors so the ASL can Retry/Catch on them. */
export function translateAwsError(err: unknown, what: string): Error {
  if (err instanceof ResourceNotFoundException)
    return new NotFoundError(`${what}: not found`, { cause: err });
  const e = err as {
    name?: string;
    $metadata?: { httpStatusCode?: number };
    $retryable?: unknown;
    code?: string;
  };
  const status = e.$metadata?.httpStatusCode;
  if (
    e.$retryable ||
    (status !== undefined && status >= 500) ||
    e.name === 'ThrottlingException' ||
    e.name === 'TimeoutError' ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(e.code ?? '')
  ) {
    return new TransientError(`${what}: ${e.name ?? 'error'}`, { cause: err });
  }
  if (e.name === 'AccessDeniedException' || e.name === 'AccessDenied' || e.name === 'AuthorizationError') {
    return new AccessDeniedError(`${what}: ${(err as Error).message}`, { cause: err });
  }
  if (e.name === 'InvalidRequestException' && /marked for deletion/i.test(String((err as Error).message))) {
    return new NotFoundError(`${what}: the secret is marked for deletion`, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** Runs an SDK call, translating its errors. */
export async function aws<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw translateAwsError(err, what);
  }
}

const RDS_NOT_FOUND = new Set([
  'DBInstanceNotFoundFault',
  'DBClusterNotFoundFault',
  'DBSnapshotNotFoundFault',
]);
const RDS_INVALID = new Set([
  'InvalidParameterValue',
  'InvalidParameterCombination',
  'InvalidParameterValueException',
  'InvalidParameterCombinationException',
  'DBInstanceAlreadyExistsFault',
  'DBClusterAlreadyExistsFault',
  'DBSnapshotAlreadyExistsFault',
]);
// A DB that is busy (modifying, rotating, backing up) accepts the same call a little later.
const RDS_BUSY = new Set(['InvalidDBInstanceStateFault', 'InvalidDBClusterStateFault']);

/** Runs an RDS call, translating its faults into the typed errors the ASL matches on. */
export async function rdsCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const name = (err as { name?: string }).name ?? '';
    const message = `${what}: ${name}: ${(err as Error).message}`;
    if (RDS_NOT_FOUND.has(name)) throw new NotFoundError(message, { cause: err });
    if (RDS_INVALID.has(name)) throw new ValidationError(message, { cause: err });
    if (RDS_BUSY.has(name)) throw new TransientError(message, { cause: err });
    throw translateAwsError(err, what);
  }
}

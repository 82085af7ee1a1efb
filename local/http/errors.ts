import type { z } from 'zod';
import { LocalCloudError } from '../errors';

/**
 * An error the local cloud answers with, in the shape of the AWS protocol of the service called:
 * `code` becomes `__type` (JSON protocols) or `<Code>` (query protocol). Messages never carry a
 * secret value.
 */
export class AwsError extends LocalCloudError {
  override name = 'AwsError' as const;
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    /** Query protocol's `<Type>`: Sender for the caller's faults, Receiver for ours. */
    readonly fault: 'Sender' | 'Receiver' = status >= 500 ? 'Receiver' : 'Sender',
  ) {
    super(message);
  }
}

export const invalidParameter = (message: string) => new AwsError('InvalidParameterException', message);
export const invalidRequest = (message: string) => new AwsError('InvalidRequestException', message);
export const resourceNotFound = (message: string) => new AwsError('ResourceNotFoundException', message);
export const resourceExists = (message: string) => new AwsError('ResourceExistsException', message);
export const validationError = (message: string) => new AwsError('ValidationException', message);
export const internalFailure = () =>
  new AwsError('InternalFailure', 'The request processing has failed because of an unknown error.', 500);

function constraint(issue: z.core.$ZodIssue): string {
  const i = issue as z.core.$ZodIssue & {
    minimum?: number | bigint;
    maximum?: number | bigint;
    origin?: string;
  };
  if (i.code === 'invalid_type' && /received undefined/.test(i.message)) return 'Member must not be null';
  if (i.code === 'too_small') {
    return i.origin === 'number'
      ? `Member must have value greater than or equal to ${i.minimum}`
      : `Member must have length greater than or equal to ${i.minimum}`;
  }
  if (i.code === 'too_big') {
    return i.origin === 'number'
      ? `Member must have value less than or equal to ${i.maximum}`
      : `Member must have length less than or equal to ${i.maximum}`;
  }
  return i.message;
}

/** AWS's ValidationException text; the offending value itself is never quoted (it may be a secret). */
function validationFailure(error: z.ZodError): AwsError {
  const parts = error.issues.map((issue) => {
    const path = issue.path
      .map((p) => (typeof p === 'number' ? String(p + 1) : String(p).replace(/^./, (c) => c.toLowerCase())))
      .join('.');
    return `Value at '${path}' failed to satisfy constraint: ${constraint(issue)}`;
  });
  const n = parts.length;
  return new AwsError(
    'ValidationException',
    `${n} validation error${n === 1 ? '' : 's'} detected: ${parts.join('; ')}`,
  );
}

/**
 * Parses a request with a zod schema; a mismatch is AWS's `ValidationException` in AWS's words,
 * naming each bad member. Unknown members are ignored, as AWS does.
 */
export function parseRequest<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw validationFailure(r.error);
  return r.data;
}

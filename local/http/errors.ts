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

/**
 * Parses a request with a zod schema; a mismatch is AWS's `ValidationException` naming each bad
 * member. Unknown members are ignored, as AWS does.
 */
export function parseRequest<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) {
    throw new AwsError(
      'ValidationException',
      r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    );
  }
  return r.data;
}

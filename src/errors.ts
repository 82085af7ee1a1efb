/**
 * Typed errors are the contract with the state machines: Step Functions' Retry and Catch match
 * the thrown error's `name`, so every class sets a literal name and adapters translate driver
 * and SDK failures into one of these.
 */
export class CredflowError extends Error {
  /** True when retrying the same call later may succeed. */
  readonly retryable: boolean = false;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CredflowError';
  }
}

/** Input that can never succeed: malformed secret, unknown engine, hostile identifier. */
export class ValidationError extends CredflowError {
  override name = 'ValidationError' as const;
}

/** A passing fault (connection refused, timeout, throttling): the ASL retries with backoff. */
export class TransientError extends CredflowError {
  override name = 'TransientError' as const;
  override readonly retryable = true;
}

/** The database refused the credentials. */
export class AuthenticationError extends CredflowError {
  override name = 'AuthenticationError' as const;
}

/** The database understood the request and refused it (missing privilege, bad SQL state). */
export class DatabaseError extends CredflowError {
  override name = 'DatabaseError' as const;
}

/** Another rotation holds AWSPENDING on a different version of the secret. */
export class RotationInProgressError extends CredflowError {
  override name = 'RotationInProgressError' as const;
}

/** The secret, version or database does not exist (any more). */
export class NotFoundError extends CredflowError {
  override name = 'NotFoundError' as const;
}

/**
 * IAM refused the call (AccessDeniedException, RDS's AccessDenied, SNS's AuthorizationError): the
 * role lacks a grant, or the resource is another account's and its policy allows nothing. Never
 * retried; the message is AWS's, naming the principal, the action and the resource.
 */
export class AccessDeniedError extends CredflowError {
  override name = 'AccessDeniedError' as const;
}

/** A rotation step found the secret's versions in a state it cannot proceed from. */
export class RotationStateError extends CredflowError {
  override name = 'RotationStateError' as const;
}

/**
 * Exit codes scripts can rely on. Anything the user can act on gets one clear line; a stack
 * trace only for a bug (exit 70).
 */
export const EXIT = {
  ok: 0,
  /** The workflow ran and failed (the error code is printed). */
  failed: 1,
  /** Bad arguments or input. */
  usage: 2,
  /** The secret, database or execution does not exist. */
  notFound: 3,
  /**
   * Nothing to talk to: the local cloud is not running, AWS is unreachable, or no AWS
   * credentials or region are configured.
   */
  unreachable: 4,
  /** Another rotation of the secret is in progress. */
  busy: 5,
  /** A bug. */
  internal: 70,
} as const;

/** An expected failure: printed as `credflow: <message> (<code>)`, exits with `exit`. */
export class CliError extends Error {
  override name = 'CliError' as const;
  constructor(
    message: string,
    readonly code: string,
    readonly exit: number = EXIT.failed,
  ) {
    super(message);
  }
}

const BY_NAME: Record<string, number> = {
  ValidationError: EXIT.usage,
  ValidationException: EXIT.usage,
  InvalidParameterException: EXIT.usage,
  InvalidParameterValueException: EXIT.usage,
  InvalidParameterCombinationException: EXIT.usage,
  InvalidRequestException: EXIT.failed,
  ResourceNotFoundException: EXIT.notFound,
  NotFoundError: EXIT.notFound,
  DBInstanceNotFoundFault: EXIT.notFound,
  DBClusterNotFoundFault: EXIT.notFound,
  ExecutionDoesNotExist: EXIT.notFound,
  StateMachineDoesNotExist: EXIT.notFound,
  RotationInProgressError: EXIT.busy,
  ExecutionAlreadyExists: EXIT.busy,
};

/** Maps any thrown thing to the line to print and the exit code. */
export function describeFailure(err: unknown): { line: string; exit: number } {
  if (err instanceof CliError) return { line: `${err.message} (${err.code})`, exit: err.exit };
  const e = err as { name?: string; message?: string; code?: string; $metadata?: unknown };
  const missing = missingConfiguration(e);
  if (missing) return { line: missing, exit: EXIT.unreachable };
  if (e?.code === 'ECONNREFUSED' || e?.name === 'TimeoutError') {
    return {
      line: `cannot reach the endpoint: ${e.message ?? e.code} (is the local cloud running? \`credflow up\`) (${e.code ?? e.name})`,
      exit: EXIT.unreachable,
    };
  }
  if (e?.$metadata || (e?.name && e.name in BY_NAME)) {
    return { line: `${e.message ?? e.name} (${e.name})`, exit: BY_NAME[e.name ?? ''] ?? EXIT.failed };
  }
  if (e?.name === 'CommanderError') return { line: e.message ?? 'usage error', exit: EXIT.usage };
  return { line: `internal error: ${(err as Error)?.stack ?? String(err)}`, exit: EXIT.internal };
}

/**
 * The SDK's own errors when nothing says which account or region to use, as one line naming
 * what is missing and how to provide it (the local cloud needs neither).
 */
function missingConfiguration(e: { name?: string; message?: string }): string | undefined {
  if (e?.name === 'CredentialsProviderError') {
    return (
      'no AWS credentials found: set AWS_PROFILE (or --profile) or AWS_ACCESS_KEY_ID and ' +
      'AWS_SECRET_ACCESS_KEY, or run `aws configure`; for the local cloud use --local (CredentialsMissing)'
    );
  }
  if (e?.message === 'Region is missing') {
    return 'no AWS region configured: set AWS_REGION or pass --region; for the local cloud use --local (RegionMissing)';
  }
  return undefined;
}

import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { GRANTS_TAG, userSecretName } from '../src/lifecycle/users';
import { USER_TAG } from '../src/rotation/boundary';
import { STRATEGY_TAG } from '../src/rotation/types';
import { type RunOptions, runCommand } from './commands';
import { connect, type GlobalOptions } from './context';
import { CliError, EXIT } from './errors';

export interface CreateUserInput {
  dbIdentifier: string;
  username: string;
  privileges: string[];
  strategy: string;
  database?: string;
  secretName?: string;
  protected?: boolean;
  rotation?: { automaticallyAfterDays: number };
}

/**
 * `create-user`: a user that exists already (its secret does) is refused with what exists and
 * exit 2, nothing changed; `--reconcile` runs the workflow over it (it resumes and rechecks
 * the user), keeping the secret's own strategy unless `--strategy` names one.
 */
export async function createUser(
  g: GlobalOptions,
  input: CreateUserInput,
  o: RunOptions & { reconcile?: boolean; strategyGiven: boolean },
): Promise<number> {
  const conn = connect(g);
  const name = input.secretName ?? userSecretName(input.dbIdentifier, input.username);
  const existing = await conn.clients.secrets
    .send(new DescribeSecretCommand({ SecretId: name }))
    .catch((err: unknown) => {
      if ((err as Error).name === 'ResourceNotFoundException') return undefined;
      throw err;
    });
  let request = input;
  if (existing?.ARN) {
    const tag = (k: string) => existing.Tags?.find((t) => t.Key === k)?.Value;
    const what = [
      `user ${tag(USER_TAG) ?? '?'}`,
      `strategy ${tag(STRATEGY_TAG) ?? '?'}`,
      tag(GRANTS_TAG) ? `grants fingerprint ${tag(GRANTS_TAG)}` : undefined,
      existing.CreatedDate ? `created ${new Date(existing.CreatedDate).toISOString()}` : undefined,
      existing.DeletedDate ? 'scheduled for deletion' : undefined,
    ]
      .filter(Boolean)
      .join(', ');
    if (!o.reconcile) {
      throw new CliError(
        `secret ${name} exists (${what}); nothing changed. To finish a create-user that was cut off, ` +
          'run it again with --reconcile and the execution name it had (--name); for another user, ' +
          'pick another username or --secret-name',
        'UserExists',
        EXIT.usage,
      );
    }
    const own = tag(STRATEGY_TAG);
    if (!o.strategyGiven && own) request = { ...input, strategy: own };
  }
  return runCommand(g, 'create-database-user', request, {
    wait: o.wait,
    ...(o.name ? { name: o.name } : {}),
  });
}

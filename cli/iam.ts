import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { LOCAL_STAGE } from '../local/boot';
import { loadCatalog } from '../local/catalog';
import { PolicyValidationError } from '../local/iam/errors';
import { PrincipalError, Principals, serviceTrust } from '../local/iam/principals';
import { loadStackIam } from '../local/iam/template';
import type { PolicyDocument } from '../local/iam/types';
import type { GlobalOptions } from './context';
import { CliError, EXIT } from './errors';
import { say } from './output';

/**
 * `credflow iam create-principal NAME --policy FILE [--managed ID]`: an IAM user of the local cloud
 * with its own policies (inline documents, the stack's managed policies by logical id). Prints
 * the export lines of its keys; a running cloud accepts them at once (it re-reads the state dir's
 * principals file when it meets an unknown key).
 */
export async function createPrincipal(
  g: GlobalOptions,
  name: string,
  o: { policy: string[]; managed: string[]; role?: boolean; trust?: string[] },
): Promise<number> {
  const stateDir = path.resolve(g.stateDir);
  if (!existsSync(stateDir)) mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const documents = o.policy.map((file) => {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as PolicyDocument;
    } catch (err) {
      throw new CliError(
        `${file}: not a JSON policy document (${(err as Error).message})`,
        'ValidationError',
        EXIT.usage,
      );
    }
  });
  if (documents.length === 0 && o.managed.length === 0)
    throw new CliError(
      'give the principal a policy: --policy FILE or --managed ID',
      'ValidationError',
      EXIT.usage,
    );
  const trusted = o.trust ?? [];
  if (trusted.length > 0 && !o.role)
    throw new CliError('--trust is for a role (--role)', 'ValidationError', EXIT.usage);
  const bad = trusted.find((t) => !/^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com$/.test(t));
  if (bad)
    throw new CliError(
      `--trust ${bad}: not a service principal (e.g. states.amazonaws.com)`,
      'ValidationError',
      EXIT.usage,
    );
  const catalog = loadCatalog(undefined, LOCAL_STAGE);
  const stack = loadStackIam(catalog.root, {
    region: 'us-east-1',
    accountId: '000000000000',
    stage: LOCAL_STAGE,
  });
  try {
    const keys = Principals.create(
      stateDir,
      name,
      {
        documents,
        managed: o.managed,
        role: o.role ?? false,
        ...(trusted.length > 0 ? { trust: serviceTrust(trusted) } : {}),
      },
      stack,
    );
    if (o.role) {
      // A role has no keys: a state machine (roleArn) or a rule target (RoleArn) names it.
      process.stdout.write(`arn:aws:iam::000000000000:role/${name}\n`);
      return EXIT.ok;
    }
    say(`principal ${name}: arn:aws:iam::000000000000:user/${name}`);
    process.stdout.write(
      `export AWS_ACCESS_KEY_ID=${keys.accessKeyId}\nexport AWS_SECRET_ACCESS_KEY=${keys.secretAccessKey}\n`,
    );
    return EXIT.ok;
  } catch (err) {
    if (err instanceof PrincipalError || err instanceof PolicyValidationError)
      throw new CliError(err.message, 'ValidationError', EXIT.usage);
    throw err;
  }
}

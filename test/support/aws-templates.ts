/**
 * Stand-ins for AWS's four RDS rotation functions (SecretsManagerRDSPostgreSQLRotationSingleUser,
 * ...MultiUser and the MySQL pair), written from their documented behaviour, not their code: the
 * same four steps over the same JSON shape, leaving the database and the secret as those
 * functions leave them. Single-user: the user changes its own password. Multi-user: the master
 * (the secret's `masterarn`) creates `<user>_clone` with the user's privileges (PostgreSQL:
 * membership in the user's role; MySQL: the user's SHOW GRANTS replayed) and alternates the
 * secret between the two. Neither binds anything: that is credflow's.
 */
import {
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { Credentials } from '../../src/engines/types';
import { type Family, sqlAs } from './sql';

export type TemplateKind = 'SingleUser' | 'MultiUser';

export function templateName(family: Family, kind: TemplateKind): string {
  return `SecretsManagerRDS${family === 'postgres' ? 'PostgreSQL' : 'MySQL'}Rotation${kind}`;
}

interface AwsShape {
  engine: string;
  host: string;
  port: number;
  username: string;
  password: string;
  dbname?: string;
  masterarn?: string;
}

const q = (family: Family, name: string) =>
  family === 'postgres' ? `"${name.replace(/"/g, '""')}"` : `'${name.replace(/'/g, "''")}'@'%'`;
const lit = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

function credsOf(s: AwsShape): Credentials {
  return { host: s.host, port: s.port, username: s.username, password: s.password, dbname: s.dbname };
}

async function secretValue(sm: SecretsManagerClient, id: string, stage?: string, versionId?: string) {
  const v = await sm.send(
    new GetSecretValueCommand({
      SecretId: id,
      ...(versionId ? { VersionId: versionId } : { VersionStage: stage ?? 'AWSCURRENT' }),
    }),
  );
  return JSON.parse(v.SecretString ?? '{}') as AwsShape;
}

async function logsIn(family: Family, s: AwsShape): Promise<boolean> {
  try {
    await sqlAs(family, credsOf(s), 'SELECT 1');
    return true;
  } catch {
    return false;
  }
}

/** The master's login: an RDS-managed master secret holds only username and password. */
async function masterOf(sm: SecretsManagerClient, user: AwsShape): Promise<Credentials> {
  const m = await secretValue(sm, user.masterarn as string);
  return { host: m.host ?? user.host, port: m.port ?? user.port, username: m.username, password: m.password };
}

/**
 * A user with SELECT and INSERT on appdb, made by `master` as a DBA would before handing its
 * secret to one of AWS's rotation functions (no binding: credflow never made it); then `extra`
 * statements as the master.
 */
export async function dbaUser(
  family: Family,
  master: Credentials,
  username: string,
  password: string,
  extra: readonly string[] = [],
): Promise<void> {
  if (family === 'postgres') {
    await sqlAs(family, master, `CREATE ROLE ${q(family, username)} WITH LOGIN PASSWORD ${lit(password)}`);
    await sqlAs(family, master, `GRANT CONNECT ON DATABASE appdb TO ${q(family, username)}`);
    const inApp = { ...master, dbname: 'appdb' };
    await sqlAs(family, inApp, `GRANT USAGE ON SCHEMA public TO ${q(family, username)}`);
    await sqlAs(
      family,
      inApp,
      `GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO ${q(family, username)}`,
    );
  } else {
    await sqlAs(family, master, `CREATE USER ${q(family, username)} IDENTIFIED BY ${lit(password)}`);
    await sqlAs(family, master, `GRANT SELECT, INSERT ON appdb.* TO ${q(family, username)}`);
  }
  for (const statement of extra) await sqlAs(family, master, statement);
}

/** What one of AWS's rotation functions does at each step. */
export function templateHandler(sm: SecretsManagerClient, family: Family, kind: TemplateKind) {
  return async (event: unknown): Promise<void> => {
    const { Step, SecretId, ClientRequestToken: token } = event as Record<string, string>;
    const d = await sm.send(new DescribeSecretCommand({ SecretId }));
    const stages = d.VersionIdsToStages ?? {};
    if (!stages[token as string]) throw new Error('token is not a version of the secret');
    if (stages[token as string]?.includes('AWSCURRENT')) return;
    const current = await secretValue(sm, SecretId as string);
    if (Step === 'createSecret') {
      try {
        await secretValue(sm, SecretId as string, 'AWSPENDING', token);
        return;
      } catch {
        // no pending value yet
      }
      const pw = await sm.send(
        new GetRandomPasswordCommand({
          PasswordLength: 32,
          ExcludeCharacters: family === 'postgres' ? '/@"\'\\:' : '/@"\'\\',
        }),
      );
      const next = { ...current, password: pw.RandomPassword as string };
      if (kind === 'MultiUser') {
        next.username = current.username.endsWith('_clone')
          ? current.username.slice(0, -'_clone'.length)
          : `${current.username}_clone`;
      }
      await sm.send(
        new PutSecretValueCommand({
          SecretId,
          ClientRequestToken: token,
          SecretString: JSON.stringify(next),
          VersionStages: ['AWSPENDING'],
        }),
      );
      return;
    }
    const pending = await secretValue(sm, SecretId as string, undefined, token);
    if (Step === 'setSecret') {
      if (await logsIn(family, pending)) return;
      if (kind === 'SingleUser') {
        const statement =
          family === 'postgres'
            ? `ALTER USER CURRENT_USER WITH PASSWORD ${lit(pending.password)}`
            : `SET PASSWORD = PASSWORD(${lit(pending.password)})`;
        await sqlAs(family, credsOf(current), statement);
        return;
      }
      const master = await masterOf(sm, pending);
      const exists =
        family === 'postgres'
          ? (await sqlAs(family, master, 'SELECT 1 FROM pg_roles WHERE rolname = $1', [pending.username]))
              .length > 0
          : (
              await sqlAs(family, master, "SELECT 1 FROM mysql.user WHERE User = ? AND Host = '%'", [
                pending.username,
              ])
            ).length > 0;
      if (family === 'postgres') {
        if (!exists) {
          await sqlAs(
            family,
            master,
            `CREATE ROLE ${q(family, pending.username)} WITH LOGIN PASSWORD ${lit(pending.password)}`,
          );
          await sqlAs(
            family,
            master,
            `GRANT ${q(family, current.username)} TO ${q(family, pending.username)}`,
          );
        } else {
          await sqlAs(
            family,
            master,
            `ALTER ROLE ${q(family, pending.username)} WITH PASSWORD ${lit(pending.password)}`,
          );
        }
        return;
      }
      if (!exists) {
        await sqlAs(
          family,
          master,
          `CREATE USER ${q(family, pending.username)} IDENTIFIED BY ${lit(pending.password)}`,
        );
        const rows = (await sqlAs(
          family,
          master,
          `SHOW GRANTS FOR ${q(family, current.username)}`,
        )) as Record<string, string>[];
        for (const row of rows) {
          const line = String(Object.values(row)[0]);
          if (/^GRANT USAGE ON \*\.\*/.test(line)) continue;
          const to = line.replace(/ TO .*$/, ` TO ${q(family, pending.username)}`);
          await sqlAs(family, master, to);
        }
      } else {
        await sqlAs(
          family,
          master,
          `SET PASSWORD FOR ${q(family, pending.username)} = PASSWORD(${lit(pending.password)})`,
        );
      }
      return;
    }
    if (Step === 'testSecret') {
      await sqlAs(family, credsOf(pending), 'SELECT 1');
      return;
    }
    if (Step === 'finishSecret') {
      const currentId = Object.entries(stages).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
      await sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token,
          ...(currentId ? { RemoveFromVersionId: currentId } : {}),
        }),
      );
    }
  };
}

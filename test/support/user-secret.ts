/**
 * The set-up several suites share: a master secret in AWS's full JSON shape, a database user
 * created with it, and the user's secret (engine, host, port, username, password, dbname,
 * masterarn) tagged with its rotation strategy.
 */
import { CreateSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { engineFor } from '../../src/engines';
import type { Credentials, Privilege } from '../../src/engines/types';
import { STRATEGY_TAG, type Strategy } from '../../src/rotation/types';

export interface UserSecretSpec {
  secrets: SecretsManagerClient;
  /** The secret's `engine` value: 'postgres' or 'mysql'. */
  engine: string;
  admin: Credentials;
  masterName: string;
  name: string;
  username: string;
  password: string;
  strategy: Strategy;
  privileges?: Privilege[];
}

export async function createUserSecret(spec: UserSecretSpec): Promise<{ arn: string; masterArn: string }> {
  const { secrets, engine, admin } = spec;
  const master = await secrets.send(
    new CreateSecretCommand({
      Name: spec.masterName,
      SecretString: JSON.stringify({
        engine,
        host: admin.host,
        port: admin.port,
        username: admin.username,
        password: admin.password,
      }),
    }),
  );
  await engineFor(engine).createUser(admin, {
    username: spec.username,
    password: spec.password,
    database: 'appdb',
    privileges: spec.privileges ?? ['SELECT'],
  });
  const user = await secrets.send(
    new CreateSecretCommand({
      Name: spec.name,
      SecretString: JSON.stringify({
        engine,
        host: admin.host,
        port: admin.port,
        username: spec.username,
        password: spec.password,
        dbname: 'appdb',
        masterarn: master.ARN,
      }),
      Tags: [{ Key: STRATEGY_TAG, Value: spec.strategy }],
    }),
  );
  return { arn: user.ARN as string, masterArn: master.ARN as string };
}

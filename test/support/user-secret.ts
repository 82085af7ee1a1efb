/**
 * The set-up several suites share: a master secret in AWS's full JSON shape, the user's secret
 * (engine, host, port, username, password, dbname, masterarn) tagged with its rotation strategy
 * and the user it is bound to, and the database user created with the master and bound to that
 * secret, in the order create-database-user uses.
 */
import { CreateSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { engineFor } from '../../src/engines';
import type { Credentials, Privilege } from '../../src/engines/types';
import { USER_TAG } from '../../src/rotation/boundary';
import { STRATEGY_TAG, type StrategyName } from '../../src/rotation/types';

export interface UserSecretSpec {
  secrets: SecretsManagerClient;
  /** The secret's `engine` value: 'postgres' or 'mysql'. */
  engine: string;
  admin: Credentials;
  masterName: string;
  name: string;
  username: string;
  password: string;
  strategy: StrategyName;
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
        // A master secret may name a database (AWS's full shape has dbname): the master's sessions open there.
        ...(admin.dbname ? { dbname: admin.dbname } : {}),
      }),
    }),
  );
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
      Tags: [
        { Key: STRATEGY_TAG, Value: spec.strategy },
        { Key: USER_TAG, Value: spec.username },
      ],
    }),
  );
  await engineFor(engine).createUser(admin, {
    username: spec.username,
    password: spec.password,
    database: 'appdb',
    privileges: spec.privileges ?? ['SELECT'],
    binding: user.ARN as string,
  });
  return { arn: user.ARN as string, masterArn: master.ARN as string };
}

/**
 * The privilege boundary's refusals say what was refused and what the secret may change: an
 * operator reading the failed execution learns which user the version named and which users the
 * strategy allows, without reading code.
 */
import { DEFAULT_CONNECTION_LIMIT, MAX_CONNECTION_LIMIT } from '../../../../src/engines/common';
import { ValidationError } from '../../../../src/errors';
import {
  assertMasterApart,
  assertOwned,
  assertSameTarget,
  boundUser,
  connectionLimitOf,
  USER_TAG,
} from '../../../../src/rotation/boundary';
import { strategyNamed } from '../../../../src/rotation/strategies';
import type { DbSecret } from '../../../../src/secret';

const ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:credflow/db/app-AbCdEf';
const secret = (username: string): DbSecret => ({
  engine: 'postgres',
  host: 'db.example',
  username,
  password: 'pw',
});

describe('the boundary names what it refuses', () => {
  it('a version naming a user outside the boundary: the version, the user, the bound user and every allowed user', () => {
    expect(() =>
      assertOwned(strategyNamed('alternating-users'), 'app', 'other', `AWSPENDING of ${ARN}`),
    ).toThrow(
      new ValidationError(
        `AWSPENDING of ${ARN} names user "other", but the secret is bound to "app": a alternating-users rotation changes only "app" and "app_clone"`,
      ),
    );
    expect(() => assertOwned(strategyNamed('single-user'), 'app', 'other', 'AWSCURRENT')).toThrow(
      /^AWSCURRENT names user "other", but the secret is bound to "app": a single-user rotation changes only "app"$/,
    );
  });

  it('a master that is one of the users: the master secret and its login', () => {
    expect(() => assertMasterApart(strategyNamed('admin-single-user'), 'app', 'APP', ARN)).toThrow(
      new ValidationError(`master secret ${ARN} logs in as "APP", a user this secret would change: refused`),
    );
  });

  it('an empty credflow:user tag binds nothing: a master strategy refuses, single-user falls back to its own user', () => {
    expect(() =>
      boundUser(strategyNamed('admin-single-user'), { [USER_TAG]: '' }, secret('app'), ARN),
    ).toThrow(
      new ValidationError(
        `admin-single-user rotation of ${ARN} refused: the secret has no credflow:user tag, so credflow did not create its user; the master only changes users credflow created for a secret`,
      ),
    );
    expect(boundUser(strategyNamed('single-user'), { [USER_TAG]: '' }, secret('app'), ARN)).toBe('app');
  });
});

describe('AWSPENDING stays on AWSCURRENT’s server and database (assertSameTarget)', () => {
  const current: DbSecret = { ...secret('app'), port: 5432, dbname: 'appdb' };
  const refusal = (pending: DbSecret) => {
    try {
      assertSameTarget(current, pending, `AWSPENDING of ${ARN}`);
    } catch (err) {
      return err;
    }
    return undefined;
  };

  it('accepts the same target, with the default port and no database written either way', () => {
    expect(refusal({ ...current, password: 'new' })).toBeUndefined();
    expect(refusal({ ...current, port: undefined as unknown as number })).toBeUndefined();
    const bare = secret('app');
    expect(() => assertSameTarget(bare, { ...bare, port: 5432, dbname: '' }, 'AWSPENDING')).not.toThrow();
    const mysql: DbSecret = { ...bare, engine: 'mysql' };
    expect(() => assertSameTarget(mysql, { ...mysql, port: 3306 }, 'AWSPENDING')).not.toThrow();
    expect(() => assertSameTarget(mysql, { ...mysql, port: 5432 }, 'AWSPENDING')).toThrow(/another port/);
  });

  it('refuses another engine, host, port or database, naming the version and every difference', () => {
    expect(refusal({ ...current, engine: 'mysql', host: 'elsewhere.example', dbname: 'other' })).toEqual(
      new ValidationError(
        `AWSPENDING of ${ARN} points at another engine, host, dbname than AWSCURRENT: a rotation never moves a secret to another server or database; nothing changed`,
      ),
    );
    expect(refusal({ ...current, engine: 'mysql' })).toEqual(
      new ValidationError(
        `AWSPENDING of ${ARN} points at another engine than AWSCURRENT: a rotation never moves a secret to another server or database; nothing changed`,
      ),
    );
    expect(refusal({ ...current, host: 'elsewhere.example' })).toEqual(
      new ValidationError(
        `AWSPENDING of ${ARN} points at another host than AWSCURRENT: a rotation never moves a secret to another server or database; nothing changed`,
      ),
    );
    expect(refusal({ ...current, port: 5433 })).toEqual(
      new ValidationError(
        `AWSPENDING of ${ARN} points at another port than AWSCURRENT: a rotation never moves a secret to another server or database; nothing changed`,
      ),
    );
    expect(refusal({ ...current, dbname: 'postgres' })).toEqual(
      new ValidationError(
        `AWSPENDING of ${ARN} points at another dbname than AWSCURRENT: a rotation never moves a secret to another server or database; nothing changed`,
      ),
    );
    expect(refusal({ ...current, dbname: undefined as unknown as string })).toBeInstanceOf(ValidationError);
  });
});

describe('the connection limit a secret’s users get (connectionLimitOf)', () => {
  const tagged = (value: string) => connectionLimitOf({ 'credflow:connection-limit': value });

  it('is the tag when it is a whole number from 1 to the maximum', () => {
    expect(tagged('1')).toBe(1);
    expect(tagged('7')).toBe(7);
    expect(tagged(String(MAX_CONNECTION_LIMIT))).toBe(MAX_CONNECTION_LIMIT);
  });

  it('is the default without a tag, or with one out of range or not a plain whole number', () => {
    expect(DEFAULT_CONNECTION_LIMIT).not.toBe(1);
    expect(connectionLimitOf({})).toBe(DEFAULT_CONNECTION_LIMIT);
    for (const bad of [
      '',
      '0',
      String(MAX_CONNECTION_LIMIT + 1),
      '123456',
      '5x',
      'x5',
      ' 5',
      '1.5',
      '-3',
      '1e3',
    ]) {
      expect([bad, tagged(bad)]).toEqual([bad, DEFAULT_CONNECTION_LIMIT]);
    }
  });
});

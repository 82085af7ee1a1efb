/**
 * The privilege boundary's refusals say what was refused and what the secret may change: an
 * operator reading the failed execution learns which user the version named and which users the
 * strategy allows, without reading code.
 */
import { ValidationError } from '../../../../src/errors';
import { assertMasterApart, assertOwned, boundUser, USER_TAG } from '../../../../src/rotation/boundary';
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

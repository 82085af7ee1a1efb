import { ValidationError } from '../../../../src/errors';
import { assertMasterApart, assertOwned, boundUser, USER_TAG } from '../../../../src/rotation/boundary';
import { resolveStrategy, strategyNamed } from '../../../../src/rotation/strategies';
import { STRATEGIES, STRATEGY_TAG } from '../../../../src/rotation/types';
import type { DbSecret } from '../../../../src/secret';

const ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:credflow/db/app-AbCdEf';
const secret = (username: string): DbSecret => ({
  engine: 'postgres',
  host: 'db.example',
  username,
  password: 'pw',
});

describe('the strategy registry', () => {
  it('has one object per strategy name, each naming itself', () => {
    for (const name of STRATEGIES) expect(strategyNamed(name).name).toBe(name);
  });

  it('refuses an unknown name with ValidationError', () => {
    expect(() => strategyNamed('round-robin')).toThrow(
      new ValidationError(
        `unknown rotation strategy "round-robin": expected one of ${STRATEGIES.join(', ')}`,
      ),
    );
    expect(() => resolveStrategy({}, { [STRATEGY_TAG]: 'toString' }, false)).toThrow(ValidationError);
  });

  it('resolves input over tag over the secret shape', () => {
    expect(
      resolveStrategy({ strategy: 'single-user' }, { [STRATEGY_TAG]: 'admin-single-user' }, true).name,
    ).toBe('single-user');
    expect(resolveStrategy({}, { [STRATEGY_TAG]: 'admin-single-user' }, false).name).toBe(
      'admin-single-user',
    );
    expect(resolveStrategy({}, {}, true).name).toBe('alternating-users');
    expect(resolveStrategy({}, {}, false).name).toBe('single-user');
  });
});

describe('which users a strategy owns and rotates to', () => {
  it('alternating: the bound user and its clone, flipping by the bound name (not by suffix)', () => {
    const s = strategyNamed('alternating-users');
    expect(s.ownedUsers('app')).toEqual(['app', 'app_clone']);
    expect(s.pendingUsername(secret('app'), 'app')).toBe('app_clone');
    expect(s.pendingUsername(secret('app_clone'), 'app')).toBe('app');
    // A user whose own name ends in _clone still alternates with its own clone.
    expect(s.pendingUsername(secret('x_clone'), 'x_clone')).toBe('x_clone_clone');
    expect(s.pendingUsername(secret('x_clone_clone'), 'x_clone')).toBe('x_clone');
  });

  it('single-user and admin-single-user: only the bound user, never a clone', () => {
    for (const name of ['single-user', 'admin-single-user'] as const) {
      const s = strategyNamed(name);
      expect(s.ownedUsers('app')).toEqual(['app']);
      expect(s.pendingUsername(secret('app'), 'app')).toBe('app');
    }
  });
});

describe('the privilege boundary', () => {
  const alternating = strategyNamed('alternating-users');
  const admin = strategyNamed('admin-single-user');
  const single = strategyNamed('single-user');

  it('a secret is bound to its credflow:user tag', () => {
    expect(boundUser(admin, { [USER_TAG]: 'app' }, secret('app'), ARN)).toBe('app');
  });

  it('strategies that use the master refuse a secret without the tag (credflow did not create its user)', () => {
    expect(() => boundUser(admin, {}, secret('dbadmin'), ARN)).toThrow(ValidationError);
    expect(() => boundUser(alternating, {}, secret('app'), ARN)).toThrow(/no credflow:user tag/);
  });

  it('single-user without the tag is bound to its own AWSCURRENT user', () => {
    expect(boundUser(single, {}, secret('app'), ARN)).toBe('app');
  });

  it('refuses a version naming another user, the master, or a system account', () => {
    expect(() => assertOwned(alternating, 'app', 'app_clone', 'AWSPENDING')).not.toThrow();
    expect(() => assertOwned(alternating, 'app', 'dbadmin', 'AWSPENDING')).toThrow(ValidationError);
    expect(() => assertOwned(admin, 'app', 'app_clone', 'AWSPENDING')).toThrow(ValidationError);
    for (const system of [
      'rdsadmin',
      'rds_superuser',
      'pg_read_all_data',
      'mysql.sys',
      'mariadb.sys',
      'root',
    ]) {
      expect(() => assertOwned(single, system, system, 'AWSCURRENT')).toThrow(/system or RDS account/);
    }
    expect(() => assertMasterApart(admin, 'DBAdmin', 'dbadmin', ARN)).toThrow(ValidationError);
    expect(() => assertMasterApart(alternating, 'dbadmin', 'dbadmin_clone', ARN)).toThrow(ValidationError);
    expect(() => assertMasterApart(admin, 'app', 'dbadmin', ARN)).not.toThrow();
  });
});

/**
 * The checks both engines make before any SQL, at their edges: which names, passwords, accounts
 * and databases pass, and the exact reason a refused one is refused. The admin credentials point
 * at a closed port, so a check that lets a value through shows as a TransientError (the engine
 * went on to connect) instead of the ValidationError expected.
 */
import { engineFor } from '../../../../src/engines';
import {
  assertNotSystemAccount,
  checkApplicationDatabase,
  checkConnectionLimit,
  checkNameCommon,
  checkPassword,
  checkPrivileges,
  DEFAULT_CONNECTION_LIMIT,
  isSystemAccount,
  MAX_CONNECTION_LIMIT,
  notBoundError,
} from '../../../../src/engines/common';
import { bindingComment, bindingOf, type RoleRow } from '../../../../src/engines/postgres/catalog';
import type { Credentials, NewUser } from '../../../../src/engines/types';
import { ValidationError } from '../../../../src/errors';
import { rejection } from '../../../support/rejection';

const ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:credflow/db/app-AbCdEf';
/** Nothing listens on port 1: an engine that gets past its checks fails to connect. */
const CLOSED: Credentials = { host: '127.0.0.1', port: 1, username: 'dbadmin', password: 'Admin-pw-1' };

describe('names (checkNameCommon)', () => {
  it('returns the name it accepts', () => {
    expect(checkNameCommon('username', 'app')).toBe('app');
  });

  it('refuses non-strings and the empty string as empty', () => {
    for (const name of [undefined, null, 42, ['app'], '']) {
      expect(() => checkNameCommon('username', name)).toThrow(/^username is empty$/);
    }
  });

  it('names a NUL byte as such (not only as a control character)', () => {
    expect(() => checkNameCommon('username', 'a\0b')).toThrow(/contains a NUL byte/);
  });

  it.each([
    ['U+0001', '\u0001'],
    ['U+001F', '\u001f'],
    ['DEL U+007F', '\u007f'],
    ['U+0080', '\u0080'],
    ['U+009F', '\u009f'],
  ])('refuses the control character %s anywhere in a name', (_label, c) => {
    for (const name of [`${c}ab`, `a${c}b`, `ab${c}`]) {
      expect(() => checkNameCommon('username', name)).toThrow(/contains control characters/);
    }
  });

  it.each([
    ['space U+0020', ' '],
    ['tilde U+007E', '~'],
    ['no-break space U+00A0', '\u00a0'],
  ])('accepts %s inside a name: the control ranges end exactly there', (_label, c) => {
    expect(checkNameCommon('username', `a${c}b`)).toBe(`a${c}b`);
  });

  it('refuses malformed Unicode, and leading or trailing whitespace of any kind', () => {
    expect(() => checkNameCommon('username', 'a\udc00')).toThrow(/is not valid Unicode/);
    for (const name of [' a', 'a ', '\u00a0a', 'a\u3000']) {
      expect(() => checkNameCommon('username', name)).toThrow(/starts or ends with whitespace/);
    }
  });

  it('names what it checked in the message', () => {
    expect(() => checkNameCommon('database name', '')).toThrow(/^database name is empty$/);
  });
});

describe('passwords (checkPassword)', () => {
  it('accepts anything a login can carry, returned as given', () => {
    const pw = `q'"\\%; ü 名 😀`;
    expect(checkPassword(pw)).toBe(pw);
  });

  it('refuses empty, non-string, NUL and malformed Unicode without quoting the value', () => {
    expect(() => checkPassword('')).toThrow(/^password is empty$/);
    expect(() => checkPassword(12345678)).toThrow(/^password is empty$/);
    expect(() => checkPassword('Secret\0Value')).toThrow(/^password contains a NUL byte$/);
    expect(() => checkPassword('Secret\ud800Value')).toThrow(/^password is not valid Unicode$/);
  });
});

describe('system and RDS accounts', () => {
  it.each([
    'root',
    'ROOT',
    'Postgres',
    'rdsadmin',
    'mariadb.sys',
    'debian-sys-maint',
    'azure_superuser',
    'cloudsqladmin',
    'Public',
    'none',
    'current_user',
    'SESSION_USER',
    'rds_superuser',
    'RDSxyz',
    'pg_monitor',
    'PG_anything',
    'mysql.sys',
    'MySQL.session',
    'mariadb.anything',
    'aurora_admin',
  ])('%j is a system account', (name) => {
    expect(isSystemAccount(name)).toBe(true);
    expect(() => assertNotSystemAccount(name)).toThrow(
      /is a system or RDS account; credflow never manages it/,
    );
  });

  it.each([
    'app',
    'myrds',
    'apg_x',
    'xmysql.y',
    'mysqlxsys',
    'mariadbxsys',
    'xmariadb.y',
    'xaurora_y',
    'aurora',
    'rootx',
    'xroot',
  ])('%j is not (prefixes anchor at the start, names match whole)', (name) => {
    expect(isSystemAccount(name)).toBe(false);
    expect(() => assertNotSystemAccount(name)).not.toThrow();
  });
});

describe('application databases', () => {
  it.each([
    'mysql',
    'MySQL',
    'sys',
    'performance_schema',
    'information_schema',
    'template0',
    'Template1',
    'rdsadmin',
    '_credflow',
  ])('refuses the system database %j', (name) => {
    expect(() => checkApplicationDatabase(name)).toThrow(
      /is a system database; credflow grants only into application databases/,
    );
  });

  it('accepts an application database, returned as given, after the common name checks', () => {
    expect(checkApplicationDatabase('appdb')).toBe('appdb');
    expect(checkApplicationDatabase('mysqlx')).toBe('mysqlx');
    expect(() => checkApplicationDatabase('')).toThrow(/^database name is empty$/);
    expect(() => checkApplicationDatabase('app\ndb')).toThrow(/control characters/);
  });
});

describe('privileges (checkPrivileges)', () => {
  it('upper-cases and deduplicates, keeping the order', () => {
    expect(checkPrivileges(['delete', 'Select', 'DELETE', 'all', 'create', 'update', 'insert'])).toEqual([
      'DELETE',
      'SELECT',
      'ALL',
      'CREATE',
      'UPDATE',
      'INSERT',
    ]);
  });

  it('refuses a non-list, an empty list and anything outside the six', () => {
    expect(() => checkPrivileges('SELECT')).toThrow(/^privileges must be a non-empty list of SELECT, INSERT/);
    expect(() => checkPrivileges(undefined)).toThrow(ValidationError);
    expect(() => checkPrivileges([])).toThrow(/non-empty list/);
    expect(() => checkPrivileges([1])).toThrow(/^unknown privilege 1; allowed: SELECT, INSERT, UPDATE/);
    expect(() => checkPrivileges(['SELECT', 'TRUNCATE'])).toThrow(/unknown privilege "TRUNCATE"/);
  });
});

describe('connection limits (checkConnectionLimit)', () => {
  it('is the default when absent, and any whole number from 1 to the maximum as given', () => {
    expect(checkConnectionLimit(undefined)).toBe(DEFAULT_CONNECTION_LIMIT);
    expect(checkConnectionLimit(1)).toBe(1);
    expect(checkConnectionLimit(25)).toBe(25);
    expect(checkConnectionLimit(MAX_CONNECTION_LIMIT)).toBe(MAX_CONNECTION_LIMIT);
  });

  it('refuses zero, too many, fractions, non-numbers and null, naming the range and the value', () => {
    expect(() => checkConnectionLimit(0)).toThrow(
      new ValidationError(`connection limit must be a whole number from 1 to ${MAX_CONNECTION_LIMIT}, got 0`),
    );
    for (const bad of [-1, MAX_CONNECTION_LIMIT + 1, 1.5, '5', null, Number.NaN]) {
      expect(() => checkConnectionLimit(bad)).toThrow(ValidationError);
    }
    expect(() => checkConnectionLimit('5')).toThrow(/got "5"$/);
  });
});

describe('the binding a PostgreSQL role carries in its comment', () => {
  const role = (comment: string | null): RoleRow => ({
    oid: 16384,
    rolcanlogin: true,
    rolsuper: false,
    rolcreatedb: false,
    rolcreaterole: false,
    rolconnlimit: -1,
    comment,
  });

  it('reads back exactly what credflow wrote', () => {
    expect(bindingComment(ARN)).toBe(`credflow:secret=${ARN}`);
    expect(bindingOf(role(bindingComment(ARN)))).toBe(ARN);
  });

  it('is none for no comment, another comment, or the prefix anywhere but the start', () => {
    expect(bindingOf(role(null))).toBeUndefined();
    expect(bindingOf(role('made by the DBA'))).toBeUndefined();
    expect(bindingOf(role(`note credflow:secret=${ARN}`))).toBeUndefined();
  });

  it('an unbound user is refused without naming the binding it holds', () => {
    const err = notBoundError('app');
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toBe(
      "user \"app\" is not bound to this secret: credflow changes only the users it created or adopted for the secret (a user another rotation function made, such as AWS's multi-user function's _clone, is bound by 'credflow adopt <secret>' after it checks the user)",
    );
  });
});

describe.each(['postgres', 'mysql'])('%s: a change the engine refuses before connecting', (family) => {
  const engine = engineFor(family);
  const user = (over: Partial<NewUser> = {}): NewUser => ({
    username: 'app',
    password: 'App-pw-1',
    database: 'appdb',
    privileges: ['SELECT'],
    binding: ARN,
    ...over,
  });

  it('valid input gets past the checks: the closed port answers with TransientError', async () => {
    expect((await rejection(engine.createUser(CLOSED, user()))).name).toBe('TransientError');
    expect((await rejection(engine.setPassword(CLOSED, 'app', 'New-pw-1', ARN))).name).toBe('TransientError');
    expect((await rejection(engine.cloneUser(CLOSED, 'app', 'app_clone', 'New-pw-1', ARN))).name).toBe(
      'TransientError',
    );
  });

  it("the admin's own account, as user or as clone", async () => {
    const own = /is the admin's own account/;
    await expect(engine.setPassword(CLOSED, 'dbadmin', 'New-pw-1', ARN)).rejects.toThrow(own);
    await expect(engine.createUser(CLOSED, user({ username: 'dbadmin' }))).rejects.toThrow(own);
    await expect(engine.cloneUser(CLOSED, 'dbadmin', 'app', 'New-pw-1', ARN)).rejects.toThrow(own);
    await expect(engine.cloneUser(CLOSED, 'app', 'dbadmin', 'New-pw-1', ARN)).rejects.toThrow(own);
  });

  it('a system account the engine’s own name rules accept', async () => {
    const system = /is a system or RDS account/;
    await expect(engine.setPassword(CLOSED, 'rdsadmin', 'New-pw-1', ARN)).rejects.toThrow(system);
    await expect(engine.cloneUser(CLOSED, 'app', 'root', 'New-pw-1', ARN)).rejects.toThrow(system);
  });

  it('a clone onto itself, and a clone with an unusable password', async () => {
    await expect(engine.cloneUser(CLOSED, 'app', 'app', 'New-pw-1', ARN)).rejects.toThrow(
      /^a user cannot be cloned onto itself$/,
    );
    await expect(engine.cloneUser(CLOSED, 'app', 'app_clone', '', ARN)).rejects.toThrow(
      /^password is empty$/,
    );
    await expect(engine.cloneUser(CLOSED, 'a\tb', 'app_clone', 'New-pw-1', ARN)).rejects.toThrow(
      /control characters/,
    );
    await expect(engine.cloneUser(CLOSED, 'app', 'a\tb', 'New-pw-1', ARN)).rejects.toThrow(
      /control characters/,
    );
  });

  it('a system database, and a database name over the engine’s limit', async () => {
    await expect(engine.createUser(CLOSED, user({ database: 'mysql' }))).rejects.toThrow(
      /is a system database/,
    );
    const limit = family === 'postgres' ? 63 : 64;
    await expect(engine.createUser(CLOSED, user({ database: 'd'.repeat(limit + 1) }))).rejects.toThrow(
      /^database name "d+" is longer than 6[34] (bytes|characters)$/,
    );
    // At the limit the name passes (and the closed port answers).
    expect((await rejection(engine.createUser(CLOSED, user({ database: 'd'.repeat(limit) })))).name).toBe(
      'TransientError',
    );
  });
});

describe('engine-specific name limits', () => {
  it('PostgreSQL counts database names in bytes, MySQL in characters', async () => {
    const pg = engineFor('postgres');
    const my = engineFor('mysql');
    const wide = 'ü'.repeat(32); // 32 characters, 64 bytes
    await expect(pg.createUser(CLOSED, { ...newUser(), database: wide })).rejects.toThrow(
      /longer than 63 bytes/,
    );
    expect((await rejection(my.createUser(CLOSED, { ...newUser(), database: wide }))).name).toBe(
      'TransientError',
    );
  });

  it("PostgreSQL's reserved names match whole words and the pg_ prefix only at the start", () => {
    const pg = engineFor('postgres');
    for (const name of ['apg_x', 'publicx', 'xpublic', 'nonex', 'xnone', 'pgx']) {
      expect(() => pg.validateUsername(name)).not.toThrow();
    }
    expect(() => pg.validateUsername('Pg_x')).toThrow(/names starting pg_ are reserved/);
    expect(() => pg.validateUsername('None')).toThrow(/is a reserved name/);
  });

  it('names the value it checked: a username', () => {
    for (const family of ['postgres', 'mysql']) {
      expect(() => engineFor(family).validateUsername('')).toThrow(/^username is empty$/);
    }
  });

  it('names the limits in their messages', () => {
    expect(() => engineFor('postgres').validateUsername('a'.repeat(64))).toThrow(
      /is 64 bytes; PostgreSQL allows at most 63$/,
    );
    expect(() => engineFor('mysql').validateUsername('😀')).toThrow(/beyond the Basic Multilingual Plane/);
    expect(() => engineFor('mysql').validateUsername('a'.repeat(32))).not.toThrow();
  });
});

function newUser(): NewUser {
  return { username: 'app', password: 'App-pw-1', database: 'appdb', privileges: ['SELECT'], binding: ARN };
}

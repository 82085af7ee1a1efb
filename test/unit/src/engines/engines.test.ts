/** Engine lookup and the checks engines make before any connection: no network here. */
import { engineFor, isLoopback, MysqlEngine, PostgresEngine } from '../../../../src/engines';
import { checkPrivileges, redact } from '../../../../src/engines/common';
import { grantEntries, parseGrantLine } from '../../../../src/engines/mysql';
import { ValidationError } from '../../../../src/errors';

describe('engineFor', () => {
  it.each(['mysql', 'mariadb', 'aurora-mysql'])('maps %s to the MySQL family', (name) => {
    const engine = engineFor(name);
    expect(engine.family).toBe('mysql');
    expect(engine).toBeInstanceOf(MysqlEngine);
    expect(engine.maxUsernameLength).toBe(32);
  });

  it.each(['postgres', 'aurora-postgresql', 'aurora'])('maps %s to PostgreSQL', (name) => {
    const engine = engineFor(name);
    expect(engine.family).toBe('postgres');
    expect(engine).toBeInstanceOf(PostgresEngine);
    expect(engine.maxUsernameLength).toBe(63);
  });

  it.each(['oracle', 'sqlserver-ee', 'MySQL', '', 'toString', '__proto__'])(
    'refuses %j with ValidationError',
    (name) => {
      expect(() => engineFor(name)).toThrow(ValidationError);
    },
  );

  it("excludes AWS's characters from generated passwords (and ':' for PostgreSQL)", () => {
    expect(engineFor('mysql').excludeCharacters).toBe('/@"\'\\');
    expect(engineFor('postgres').excludeCharacters).toBe('/@"\'\\:');
  });
});

describe('validateUsername', () => {
  const mysql = engineFor('mysql');
  const postgres = engineFor('postgres');

  it.each([
    `o'hara`,
    'dq"uote',
    'back`tick',
    'back\\slash',
    'per%cent',
    'semi;colon',
    'sp ace',
    'ü名',
    "x'; DROP USER a; --",
  ])('accepts %j on both engines (quoting makes it safe)', (name) => {
    expect(() => mysql.validateUsername(name)).not.toThrow();
    expect(() => postgres.validateUsername(name)).not.toThrow();
  });

  it.each([
    ['empty', ''],
    ['NUL', 'a\0b'],
    ['tab', 'a\tb'],
    ['newline', 'a\nb'],
    ['DEL', 'a\u007fb'],
    ['leading space', ' a'],
    ['trailing space', 'a '],
    ['lone surrogate', 'a\ud800b'],
  ])('refuses a %s name on both engines', (_label, name) => {
    expect(() => mysql.validateUsername(name)).toThrow(ValidationError);
    expect(() => postgres.validateUsername(name)).toThrow(ValidationError);
  });

  it('counts MySQL limits in characters: 32 pass, 33 fail', () => {
    expect(() => mysql.validateUsername('ü'.repeat(32))).not.toThrow();
    expect(() => mysql.validateUsername('u'.repeat(33))).toThrow(/33 characters; MySQL allows at most 32/);
  });

  it('counts PostgreSQL limits in bytes: 63 pass, 64 fail', () => {
    expect(() => postgres.validateUsername('a'.repeat(63))).not.toThrow();
    expect(() => postgres.validateUsername(`${'ü'.repeat(31)}a`)).not.toThrow();
    expect(() => postgres.validateUsername('ü'.repeat(32))).toThrow(/64 bytes; PostgreSQL allows at most 63/);
  });

  it('refuses characters mysql.user cannot store (beyond the BMP); PostgreSQL takes them', () => {
    expect(() => mysql.validateUsername('emoji😀')).toThrow(ValidationError);
    expect(() => postgres.validateUsername('emoji😀')).not.toThrow();
  });

  it("refuses PostgreSQL's reserved role names", () => {
    for (const name of ['pg_monitor', 'PG_x', 'public', 'PUBLIC', 'none']) {
      expect(() => postgres.validateUsername(name)).toThrow(ValidationError);
    }
    expect(() => mysql.validateUsername('public')).not.toThrow();
  });

  it('refuses non-strings', () => {
    expect(() => mysql.validateUsername(undefined as unknown as string)).toThrow(ValidationError);
  });
});

describe('SHOW GRANTS parsing (MySQL)', () => {
  it('takes the grantee out by its exact quoted form and drops authentication and TLS clauses', () => {
    const g = parseGrantLine(
      "GRANT USAGE ON *.* TO `we``ird'na\\me`@`%` IDENTIFIED BY PASSWORD '*2B60' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 5",
      "we`ird'na\\me",
    );
    expect(g).toEqual({
      verb: 'GRANT',
      head: 'USAGE ON *.*',
      privileges: ['USAGE'],
      object: '*.*',
      options: ['MAX_QUERIES_PER_HOUR 5'],
    });
  });

  it('is not fooled by " TO " or the user name inside an object name', () => {
    const g = parseGrantLine('GRANT SELECT, INSERT ON `a TO `` b`.* TO `bob`@`%` WITH GRANT OPTION', 'bob');
    expect(g.object).toBe('`a TO `` b`.*');
    expect(g.privileges).toEqual(['SELECT', 'INSERT']);
    expect(g.options).toEqual(['GRANT OPTION']);
  });

  it('splits privilege lists at top level only (column lists stay whole)', () => {
    const g = parseGrantLine('GRANT SELECT (`a`, `b`), UPDATE (`c`) ON `db`.`t` TO `u`@`%`', 'u');
    expect(g.privileges).toEqual(['SELECT (`a`, `b`)', 'UPDATE (`c`)']);
    expect(g.object).toBe('`db`.`t`');
  });

  it('reads role grants, revokes and default roles', () => {
    const role = parseGrantLine('GRANT `reader`@`%` TO `u`@`%` WITH ADMIN OPTION', 'u');
    expect(role).toMatchObject({ verb: 'GRANT', privileges: ['`reader`@`%`'], options: ['ADMIN OPTION'] });
    expect(role.object).toBeUndefined();
    expect(grantEntries([role])).toEqual(['ROLE `reader`@`%` WITH ADMIN OPTION']);
    expect(parseGrantLine('REVOKE INSERT ON `db`.* FROM `u`@`%`', 'u')).toMatchObject({
      verb: 'REVOKE',
      object: '`db`.*',
    });
    expect(parseGrantLine('SET DEFAULT ROLE `reader` FOR `u`@`%`', 'u')).toMatchObject({
      verb: 'DEFAULT ROLE',
      head: '`reader`',
    });
  });

  it('refuses a line it cannot attribute to the user, without quoting it', () => {
    expect(() =>
      parseGrantLine("GRANT USAGE ON *.* TO `other`@`%` IDENTIFIED BY PASSWORD '*SECRET'", 'u'),
    ).toThrow(/unexpected shape/);
    try {
      parseGrantLine("GRANT USAGE ON *.* TO `other`@`%` IDENTIFIED BY PASSWORD '*SECRET'", 'u');
    } catch (err) {
      expect((err as Error).message).not.toContain('SECRET');
    }
  });

  it('normalises to user-free entries, so a user and its clone compare equal', () => {
    const lines = (name: string) => [
      `GRANT USAGE ON *.* TO \`${name}\`@\`%\` IDENTIFIED BY PASSWORD '*AB'`,
      `GRANT INSERT, SELECT ON \`app\\_db\`.* TO \`${name}\`@\`%\` WITH GRANT OPTION`,
    ];
    const entries = (name: string) => grantEntries(lines(name).map((l) => parseGrantLine(l, name)));
    expect(entries('app')).toEqual([
      'GRANT OPTION ON `app\\_db`.*',
      'INSERT ON `app\\_db`.*',
      'SELECT ON `app\\_db`.*',
    ]);
    expect(entries('app_clone')).toEqual(entries('app'));
  });
});

describe('helpers', () => {
  it('knows loopback hosts', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopback(h)).toBe(true);
    for (const h of ['10.0.0.1', 'db.example.com', '128.0.0.1', 'localhost.evil.com'])
      expect(isLoopback(h)).toBe(false);
  });

  it('checks privileges at run time', () => {
    expect(checkPrivileges(['select', 'INSERT', 'SELECT'])).toEqual(['SELECT', 'INSERT']);
    expect(() => checkPrivileges([])).toThrow(ValidationError);
    expect(() => checkPrivileges(['SELECT; DROP TABLE x'])).toThrow(ValidationError);
  });

  it('redacts secrets and their escaped forms from messages', () => {
    const msg = redact("near 'pa\\'ss' and pa'ss", ["pa'ss"], [(s) => s.replace(/'/g, "\\'")]);
    expect(msg).toBe("near '[redacted]' and [redacted]");
  });
});

/**
 * One contract, every engine: the same behaviour is asserted against a real PostgreSQL and a
 * real MariaDB. Engine SQL is under test, so the checks that look behind the engine's back
 * (can this user INSERT? does the table survive?) use the drivers directly.
 */
import net from 'node:net';
import mysql from 'mysql2/promise';
import { Client as PgClient } from 'pg';
import { engineFor } from '../../src/engines';
import { tlsOptions } from '../../src/engines/common';
import type { Credentials, DatabaseEngine } from '../../src/engines/types';
import {
  AuthenticationError,
  DatabaseError,
  NotFoundError,
  TransientError,
  ValidationError,
} from '../../src/errors';
import { rejection } from '../support/rejection';
import { startTestServers, TEST_DATABASE, type TestServers } from '../support/servers';
import { type Family, sqlAs } from '../support/sql';

/** The secret every user of this suite is bound to (its ARN, as create-database-user records it). */
const BINDING = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:credflow/contract/users-AbCdEf';

let servers: TestServers;

beforeAll(async () => {
  servers = await startTestServers();
}, 120_000);

afterAll(async () => {
  await servers?.stop();
});

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe.each<Family>(['postgres', 'mysql'])('%s engine contract', (family) => {
  let engine: DatabaseEngine;
  let seq = 0;
  const admin = () => servers[family].admin;
  const appAdmin = (): Credentials => ({ ...admin(), dbname: TEST_DATABASE });
  const creds = (username: string, password: string, extra: Partial<Credentials> = {}): Credentials => ({
    host: admin().host,
    port: admin().port,
    username,
    password,
    dbname: TEST_DATABASE,
    ...extra,
  });
  const fresh = (stem: string) => `${stem}${++seq}`;

  beforeAll(async () => {
    engine = engineFor(family === 'postgres' ? 'postgres' : 'mariadb');
    await sqlAs(family, appAdmin(), 'CREATE TABLE items (id INT)');
    await sqlAs(family, appAdmin(), 'INSERT INTO items (id) VALUES (1)');
  });

  describe('testLogin', () => {
    it('logs in with the right password', async () => {
      await expect(engine.testLogin(admin())).resolves.toBeUndefined();
    });

    it('rejects a wrong password with AuthenticationError that does not quote it', async () => {
      const wrong = "Wr0ng'pass\\word";
      const err = await rejection(engine.testLogin({ ...admin(), password: wrong }));
      expect(err).toBeInstanceOf(AuthenticationError);
      expect(err.name).toBe('AuthenticationError');
      expect(err.message).not.toContain(wrong);
    });

    it('rejects an unknown user with AuthenticationError', async () => {
      await expect(engine.testLogin(creds('nobody_here', 'x'))).rejects.toBeInstanceOf(AuthenticationError);
    });

    it('reports a closed port as TransientError', async () => {
      const err = await rejection(engine.testLogin({ ...admin(), port: await closedPort() }));
      expect(err).toBeInstanceOf(TransientError);
      expect(err.name).toBe('TransientError');
    });
  });

  describe('createUser', () => {
    it('grants exactly the requested privileges: a SELECT-only user can read but not write', async () => {
      const name = fresh('reader');
      await engine.createUser(admin(), {
        username: name,
        password: 'Read-only-1',
        database: TEST_DATABASE,
        privileges: ['SELECT'],
        binding: BINDING,
      });
      const user = creds(name, 'Read-only-1');
      await expect(sqlAs(family, user, 'SELECT id FROM items')).resolves.toEqual([{ id: 1 }]);
      await expect(sqlAs(family, user, 'INSERT INTO items (id) VALUES (2)')).rejects.toThrow();
      await expect(sqlAs(family, user, 'DELETE FROM items')).rejects.toThrow();
      const grants = await engine.listGrants(admin(), name);
      expect(grants.some((g) => g.includes('SELECT'))).toBe(true);
      expect(grants.some((g) => /INSERT|DELETE|UPDATE/.test(g))).toBe(false);
      expect(grants.join('\n')).not.toContain(name);
    });

    it('covers tables created after the user', async () => {
      const name = fresh('later');
      await engine.createUser(admin(), {
        username: name,
        password: 'Later-1',
        database: TEST_DATABASE,
        privileges: ['SELECT'],
        binding: BINDING,
      });
      const table = `later_table_${seq}`;
      await sqlAs(family, appAdmin(), `CREATE TABLE ${table} (id INT)`);
      await expect(sqlAs(family, creds(name, 'Later-1'), `SELECT id FROM ${table}`)).resolves.toEqual([]);
    });

    it('gives SELECT+INSERT users both, and still no DELETE', async () => {
      const name = fresh('writer');
      await engine.createUser(admin(), {
        username: name,
        password: 'Write-1',
        database: TEST_DATABASE,
        privileges: ['SELECT', 'INSERT'],
        binding: BINDING,
      });
      const user = creds(name, 'Write-1');
      await sqlAs(family, user, 'INSERT INTO items (id) VALUES (100)');
      await expect(sqlAs(family, user, 'DELETE FROM items WHERE id = 100')).rejects.toThrow();
      await sqlAs(family, appAdmin(), 'DELETE FROM items WHERE id = 100');
    });

    it('refuses an existing user (DatabaseError, password not quoted) and unknown privileges', async () => {
      const name = fresh('twice');
      await engine.createUser(admin(), {
        username: name,
        password: 'Twice-1',
        database: TEST_DATABASE,
        privileges: ['SELECT'],
        binding: BINDING,
      });
      const err = await rejection(
        engine.createUser(admin(), {
          username: name,
          password: 'Secret-2nd',
          database: TEST_DATABASE,
          privileges: ['SELECT'],
          binding: BINDING,
        }),
      );
      expect(err).toBeInstanceOf(DatabaseError);
      expect(err.message).not.toContain('Secret-2nd');
      await expect(
        engine.createUser(admin(), {
          username: fresh('badpriv'),
          password: 'x',
          database: TEST_DATABASE,
          privileges: ['SELECT', 'DROP' as 'SELECT'],
          binding: BINDING,
        }),
      ).rejects.toBeInstanceOf(ValidationError);
    });
  });

  describe('passwords', () => {
    it('changeOwnPassword: the old password is rejected, the new one works', async () => {
      const name = fresh('self');
      const oldPw = "Old'pw\\1";
      const newPw = `New'"\\%; ü名 pw-${seq}`;
      await engine.createUser(admin(), {
        username: name,
        password: oldPw,
        database: TEST_DATABASE,
        privileges: ['SELECT'],
        binding: BINDING,
      });
      await engine.changeOwnPassword(creds(name, oldPw), newPw);
      await expect(engine.testLogin(creds(name, oldPw))).rejects.toBeInstanceOf(AuthenticationError);
      await expect(engine.testLogin(creds(name, newPw))).resolves.toBeUndefined();
    });

    it('setPassword as admin: the old password is rejected, the new one works', async () => {
      const name = fresh('managed');
      await engine.createUser(admin(), {
        username: name,
        password: 'Before-1',
        database: TEST_DATABASE,
        privileges: ['SELECT'],
        binding: BINDING,
      });
      await engine.setPassword(admin(), name, "After'1\\%", BINDING);
      await expect(engine.testLogin(creds(name, 'Before-1'))).rejects.toBeInstanceOf(AuthenticationError);
      await expect(engine.testLogin(creds(name, "After'1\\%"))).resolves.toBeUndefined();
    });

    it('setPassword on a missing user is NotFoundError', async () => {
      await expect(engine.setPassword(admin(), 'no_such_user', 'x', BINDING)).rejects.toBeInstanceOf(
        NotFoundError,
      );
    });

    it('refuses empty passwords and NUL bytes before touching the server', async () => {
      await expect(engine.setPassword(admin(), 'whoever', '', BINDING)).rejects.toBeInstanceOf(
        ValidationError,
      );
      await expect(engine.setPassword(admin(), 'whoever', 'a\0b', BINDING)).rejects.toBeInstanceOf(
        ValidationError,
      );
    });
  });

  describe('cloneUser', () => {
    it('makes a clone that logs in with its own password and has the same grants', async () => {
      const name = fresh('orig');
      const clone = `${name}_clone`;
      await engine.createUser(admin(), {
        username: name,
        password: 'Orig-1',
        database: TEST_DATABASE,
        privileges: ['SELECT', 'INSERT'],
        binding: BINDING,
      });
      await engine.cloneUser(admin(), name, clone, "Clone'1\\", BINDING);
      await expect(engine.testLogin(creds(clone, "Clone'1\\"))).resolves.toBeUndefined();
      await expect(
        sqlAs(family, creds(clone, "Clone'1\\"), 'SELECT id FROM items WHERE id = 1'),
      ).resolves.toEqual([{ id: 1 }]);
      await expect(sqlAs(family, creds(clone, "Clone'1\\"), 'DELETE FROM items')).rejects.toThrow();
      const sourceGrants = await engine.listGrants(admin(), name);
      expect(sourceGrants.length).toBeGreaterThan(0);
      expect(await engine.listGrants(admin(), clone)).toEqual(sourceGrants);
      // The source is untouched.
      await expect(engine.testLogin(creds(name, 'Orig-1'))).resolves.toBeUndefined();
    });

    it('is idempotent: re-cloning re-syncs grants and sets the new password', async () => {
      const name = fresh('again');
      const clone = `${name}_clone`;
      await engine.createUser(admin(), {
        username: name,
        password: 'Again-1',
        database: TEST_DATABASE,
        privileges: ['SELECT'],
        binding: BINDING,
      });
      await engine.cloneUser(admin(), name, clone, 'Clone-1', BINDING);
      // Drift: the clone gets something its source does not have.
      if (family === 'postgres') {
        await sqlAs(family, admin(), `CREATE ROLE drift_group_${seq} NOLOGIN`);
        await sqlAs(family, admin(), `GRANT drift_group_${seq} TO ${clone}`);
      } else {
        await sqlAs(family, admin(), `GRANT DELETE ON appdb.* TO '${clone}'@'%'`);
      }
      expect(await engine.listGrants(admin(), clone)).not.toEqual(await engine.listGrants(admin(), name));
      await engine.cloneUser(admin(), name, clone, 'Clone-2', BINDING);
      await engine.cloneUser(admin(), name, clone, 'Clone-2', BINDING);
      expect(await engine.listGrants(admin(), clone)).toEqual(await engine.listGrants(admin(), name));
      await expect(engine.testLogin(creds(clone, 'Clone-1'))).rejects.toBeInstanceOf(AuthenticationError);
      await expect(engine.testLogin(creds(clone, 'Clone-2'))).resolves.toBeUndefined();
    });

    // A crash between the clone's CREATE USER and its GRANTs (the chaos test found it): on MySQL
    // the clone then cannot open the application's database. That is a refused login (setSecret
    // reruns cloneUser, which completes it), not a database fault that would stop the rotation.
    it('a clone left without its grants is refused as a login, and cloning again completes it', async () => {
      const name = fresh('half');
      const clone = `${name}_clone`;
      await engine.createUser(admin(), {
        username: name,
        password: 'Half-1',
        database: TEST_DATABASE,
        privileges: ['SELECT'],
        binding: BINDING,
      });
      // The clone as a crash leaves it: bound and created, its grants not yet given.
      await engine.cloneUser(admin(), name, clone, 'Half-clone-1', BINDING);
      if (family === 'mysql')
        await sqlAs(family, admin(), `REVOKE ALL PRIVILEGES, GRANT OPTION FROM '${clone}'@'%'`);
      else await sqlAs(family, admin(), `REVOKE ${name} FROM ${clone}`);
      expect(await engine.listGrants(admin(), clone)).not.toEqual(await engine.listGrants(admin(), name));
      if (family === 'mysql')
        await expect(engine.testLogin(creds(clone, 'Half-clone-1'))).rejects.toBeInstanceOf(
          AuthenticationError,
        );
      await engine.cloneUser(admin(), name, clone, 'Half-clone-2', BINDING);
      await expect(engine.testLogin(creds(clone, 'Half-clone-2'))).resolves.toBeUndefined();
      expect(await engine.listGrants(admin(), clone)).toEqual(await engine.listGrants(admin(), name));
    });

    it('works the other way round (the alternating strategy clones the clone back onto the original)', async () => {
      const name = fresh('flip');
      const clone = `${name}_clone`;
      await engine.createUser(admin(), {
        username: name,
        password: 'Flip-1',
        database: TEST_DATABASE,
        privileges: ['SELECT'],
        binding: BINDING,
      });
      await engine.cloneUser(admin(), name, clone, 'Flip-clone-1', BINDING);
      await engine.cloneUser(admin(), clone, name, 'Flip-2', BINDING);
      await expect(engine.testLogin(creds(name, 'Flip-2'))).resolves.toBeUndefined();
      await expect(engine.testLogin(creds(clone, 'Flip-clone-1'))).resolves.toBeUndefined();
      expect(await engine.listGrants(admin(), name)).toEqual(await engine.listGrants(admin(), clone));
    });

    it('inspectUsers reads several users in one pass: the grants listGrants reports, null for a missing one', async () => {
      const name = fresh('inspect');
      const clone = `${name}_clone`;
      await engine.createUser(admin(), {
        username: name,
        password: 'Inspect-1',
        database: TEST_DATABASE,
        privileges: ['SELECT', 'UPDATE'],
        binding: BINDING,
      });
      await engine.cloneUser(admin(), name, clone, 'Inspect-clone-1', BINDING);
      const seen = await engine.inspectUsers(admin(), [name, clone, 'no_such_user', name]);
      expect(Object.keys(seen).sort()).toEqual([name, clone, 'no_such_user'].sort());
      expect(seen[name]).toEqual(await engine.listGrants(admin(), name));
      expect(seen[clone]).toEqual(await engine.listGrants(admin(), clone));
      expect(seen[name]?.some((g) => g.includes('UPDATE'))).toBe(true);
      expect(seen['no_such_user']).toBeNull();
      await expect(engine.inspectUsers(admin(), ["bad'\u0000name"])).rejects.toBeInstanceOf(ValidationError);
    });

    it('refuses a missing source (NotFoundError) and cloning onto itself (ValidationError)', async () => {
      await expect(
        engine.cloneUser(admin(), 'no_such_source', 'no_such_clone', 'x', BINDING),
      ).rejects.toBeInstanceOf(NotFoundError);
      await expect(engine.userExists(admin(), 'no_such_clone')).resolves.toBe(false);
      await expect(engine.cloneUser(admin(), 'same', 'same', 'x', BINDING)).rejects.toBeInstanceOf(
        ValidationError,
      );
    });

    if (family === 'mysql') {
      it('copies the TLS requirement (REQUIRE SSL)', async () => {
        const name = fresh('tlsonly');
        const clone = `${name}_clone`;
        await engine.createUser(admin(), {
          username: name,
          password: 'Tls-1',
          database: TEST_DATABASE,
          privileges: ['SELECT'],
          binding: BINDING,
        });
        await sqlAs(family, admin(), `ALTER USER '${name}'@'%' REQUIRE SSL`);
        await engine.cloneUser(admin(), name, clone, 'Tls-clone-1', BINDING);
        expect(await engine.listGrants(admin(), clone)).toContain('REQUIRE SSL');
        expect(await engine.listGrants(admin(), clone)).toEqual(await engine.listGrants(admin(), name));
        await expect(engine.testLogin(creds(clone, 'Tls-clone-1', { ssl: false }))).rejects.toBeInstanceOf(
          AuthenticationError,
        );
        await expect(engine.testLogin(creds(clone, 'Tls-clone-1'))).resolves.toBeUndefined();
      });
    }
  });

  describe('what other tenants can do to a user (connection limit, clone attributes, foreign grants)', () => {
    /** The user's connection limit as the server stores it (MariaDB: 0 means none). */
    async function connectionLimit(username: string): Promise<number> {
      const rows =
        family === 'postgres'
          ? await sqlAs(family, admin(), 'SELECT rolconnlimit AS n FROM pg_roles WHERE rolname = $1', [
              username,
            ])
          : await sqlAs(
              family,
              admin(),
              "SELECT max_user_connections AS n FROM mysql.user WHERE User = ? AND Host = '%'",
              [username],
            );
      return Number((rows[0] as { n: unknown }).n);
    }

    it('every user gets a connection limit: 40 by default, or the one asked for; the clone the same', async () => {
      const name = fresh('limited');
      await engine.createUser(admin(), {
        username: name,
        password: 'Limited-1',
        database: TEST_DATABASE,
        privileges: ['SELECT'],
        binding: BINDING,
      });
      expect(await connectionLimit(name)).toBe(40);
      const other = fresh('limited');
      await engine.createUser(admin(), {
        username: other,
        password: 'Limited-2',
        database: TEST_DATABASE,
        privileges: ['SELECT'],
        connectionLimit: 7,
        binding: BINDING,
      });
      expect(await connectionLimit(other)).toBe(7);
      await engine.cloneUser(admin(), other, `${other}_clone`, 'Limited-clone-1', BINDING, {
        connectionLimit: 7,
      });
      expect(await connectionLimit(`${other}_clone`)).toBe(7);
      await expect(
        engine.createUser(admin(), {
          username: fresh('limited'),
          password: 'Limited-3',
          database: TEST_DATABASE,
          privileges: ['SELECT'],
          connectionLimit: 0,
          binding: BINDING,
        }),
      ).rejects.toMatchObject({
        name: 'ValidationError',
        message: expect.stringMatching(/connection limit/),
      });
    });

    it('the limit holds: a user cannot open more connections than it allows', async () => {
      const name = fresh('capped');
      await engine.createUser(admin(), {
        username: name,
        password: 'Capped-1',
        database: TEST_DATABASE,
        privileges: ['SELECT'],
        connectionLimit: 1,
        binding: BINDING,
      });
      // Hold one session open while a second one tries to log in.
      if (family === 'postgres') {
        const c = new PgClient({
          ...creds(name, 'Capped-1'),
          user: name,
          database: TEST_DATABASE,
          ssl: tlsOptions({}),
        });
        await c.connect();
        try {
          await expect(sqlAs(family, creds(name, 'Capped-1'), 'SELECT 1')).rejects.toThrow(
            /too many connections/,
          );
        } finally {
          await c.end();
        }
      } else {
        const c = await mysql.createConnection({
          host: admin().host,
          port: admin().port,
          user: name,
          password: 'Capped-1',
        });
        try {
          await expect(sqlAs(family, creds(name, 'Capped-1'), 'SELECT 1')).rejects.toThrow(
            /max_user_connections|resource/,
          );
        } finally {
          await c.end();
        }
      }
    });

    it("a clone gets credflow's fixed attributes, never what the source gained since", async () => {
      const name = fresh('gained');
      const clone = `${name}_clone`;
      await engine.createUser(admin(), {
        username: name,
        password: 'Gained-1',
        database: TEST_DATABASE,
        privileges: ['SELECT'],
        binding: BINDING,
      });
      if (family === 'postgres') {
        // What a user that ran code as the master would give itself.
        await sqlAs(family, admin(), `ALTER ROLE ${name} CREATEROLE CREATEDB CONNECTION LIMIT -1`);
        await engine.cloneUser(admin(), name, clone, 'Gained-clone-1', BINDING);
        const attrs = async (role: string) =>
          (
            await sqlAs(
              family,
              admin(),
              'SELECT rolcreaterole, rolcreatedb, rolsuper, rolreplication, rolbypassrls, rolinherit, rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = $1',
              [role],
            )
          )[0];
        const fixed = {
          rolcreaterole: false,
          rolcreatedb: false,
          rolsuper: false,
          rolreplication: false,
          rolbypassrls: false,
          rolinherit: true,
          rolcanlogin: true,
          rolconnlimit: 40,
        };
        expect(await attrs(clone)).toEqual(fixed);
        // The next turn re-makes the original from its clone: it loses what it gained.
        await engine.cloneUser(admin(), clone, name, 'Gained-2', BINDING);
        expect(await attrs(name)).toEqual(fixed);
      } else {
        await sqlAs(family, admin(), `ALTER USER '${name}'@'%' WITH MAX_USER_CONNECTIONS 0`);
        await engine.cloneUser(admin(), name, clone, 'Gained-clone-1', BINDING);
        expect(await connectionLimit(clone)).toBe(40);
      }
    });

    it("another tenant's GRANT to the user, or to PUBLIC, is not among the user's grants", async () => {
      const victim = fresh('victim');
      const tenant = fresh('tenant');
      for (const [username, privileges] of [
        [victim, ['SELECT']],
        [tenant, ['ALL']],
      ] as const) {
        await engine.createUser(admin(), {
          username,
          password: 'Tenant-pw-1',
          database: TEST_DATABASE,
          privileges,
          binding: BINDING,
        });
      }
      const before = await engine.listGrants(admin(), victim, { database: TEST_DATABASE });
      expect(before.some((g) => g.includes('SELECT'))).toBe(true);
      const asTenant = creds(tenant, 'Tenant-pw-1');
      const table = `tenant_table_${seq}`;
      await sqlAs(family, asTenant, `CREATE TABLE ${table} (id INT)`);
      if (family === 'postgres') {
        await sqlAs(family, asTenant, `GRANT SELECT, INSERT ON ${table} TO ${victim}`);
        await sqlAs(family, asTenant, `GRANT SELECT ON ${table} TO PUBLIC`);
        // The grant is real: the victim can read the table.
        await expect(
          sqlAs(family, creds(victim, 'Tenant-pw-1'), `INSERT INTO ${table} VALUES (1)`),
        ).resolves.toEqual([]);
      } else {
        // MySQL: without GRANT OPTION (credflow never gives it) a user can grant nothing.
        await expect(
          sqlAs(family, asTenant, `GRANT SELECT ON appdb.${table} TO '${victim}'@'%'`),
        ).rejects.toThrow();
      }
      expect(await engine.listGrants(admin(), victim, { database: TEST_DATABASE })).toEqual(before);
      // What credflow granted still counts: the admin revoking it is seen.
      if (family === 'postgres') await sqlAs(family, appAdmin(), `REVOKE SELECT ON items FROM ${victim}`);
      else await sqlAs(family, admin(), `REVOKE SELECT ON appdb.* FROM '${victim}'@'%'`);
      expect(await engine.listGrants(admin(), victim, { database: TEST_DATABASE })).not.toEqual(before);
    });

    it('accounts with the same name on another host are reported (MySQL family); PostgreSQL has none', async () => {
      const name = fresh('hosts');
      await engine.createUser(admin(), {
        username: name,
        password: 'Hosts-1',
        database: TEST_DATABASE,
        privileges: ['SELECT'],
        binding: BINDING,
      });
      if (family === 'postgres') {
        expect(engine.accountsElsewhere).toBeUndefined();
        return;
      }
      expect(await engine.accountsElsewhere?.(admin(), [name])).toEqual({ [name]: [] });
      await sqlAs(family, admin(), `CREATE USER '${name}'@'localhost' IDENTIFIED BY 'Dba-pw-1'`);
      await sqlAs(family, admin(), `CREATE USER '${name}'@'10.0.0.%' IDENTIFIED BY 'Dba-pw-2'`);
      expect(await engine.accountsElsewhere?.(admin(), [name, 'nobody_at_all'])).toEqual({
        [name]: ['10.0.0.%', 'localhost'],
        nobody_at_all: [],
      });
    });

    it.each(['postgres', 'template1', 'rdsadmin'])(
      'refuses %s as an application database before any SQL',
      async (database) => {
        const name = fresh('sysdb');
        const err = await rejection(
          engine.createUser(admin(), {
            username: name,
            password: 'Sysdb-1',
            database,
            privileges: ['SELECT'],
            binding: BINDING,
          }),
        );
        expect(err).toMatchObject({
          name: 'ValidationError',
          message: expect.stringMatching(/system database/),
        });
        expect(await engine.userExists(admin(), name)).toBe(false);
      },
    );
  });

  describe('userExists, listUsers, dropUser', () => {
    it('sees a user until it is dropped; dropping twice is fine', async () => {
      const name = fresh('short_lived');
      await engine.createUser(admin(), {
        username: name,
        password: 'Short-1',
        database: TEST_DATABASE,
        privileges: ['SELECT'],
        binding: BINDING,
      });
      expect(await engine.userExists(admin(), name)).toBe(true);
      expect(await engine.listUsers(admin())).toContain(name);
      await engine.dropUser(admin(), name);
      expect(await engine.userExists(admin(), name)).toBe(false);
      expect(await engine.listUsers(admin())).not.toContain(name);
      await expect(engine.dropUser(admin(), name)).resolves.toBeUndefined();
      await expect(engine.testLogin(creds(name, 'Short-1'))).rejects.toBeInstanceOf(AuthenticationError);
    });

    it('refuses to drop the admin itself', async () => {
      await expect(engine.dropUser(admin(), admin().username)).rejects.toBeInstanceOf(ValidationError);
    });

    if (family === 'postgres') {
      it('refuses to drop a user that owns objects, and keeps them: the master never takes over its code', async () => {
        const name = fresh('owner');
        await engine.createUser(admin(), {
          username: name,
          password: 'Owner-1',
          database: TEST_DATABASE,
          privileges: ['ALL'],
          binding: BINDING,
        });
        await sqlAs(family, creds(name, 'Owner-1'), `CREATE TABLE owned_${seq} (id INT)`);
        // A SECURITY DEFINER function handed to the master would run with the master's rights.
        await sqlAs(
          family,
          creds(name, 'Owner-1'),
          `CREATE FUNCTION owned_fn_${seq}() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'`,
        );
        const err = await engine.dropUser(admin(), name).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ValidationError);
        expect((err as Error).message).toMatch(/owns 2 database objects.*nothing dropped/);
        expect(await engine.userExists(admin(), name)).toBe(true);
        await expect(
          sqlAs(family, creds(name, 'Owner-1'), `SELECT count(*)::int AS n FROM owned_${seq}`),
        ).resolves.toEqual([{ n: 0 }]);
        // Once it owns nothing, it can go.
        await sqlAs(
          family,
          creds(name, 'Owner-1'),
          `DROP FUNCTION owned_fn_${seq}(); DROP TABLE owned_${seq}`,
        );
        await engine.dropUser(admin(), name);
        expect(await engine.userExists(admin(), name)).toBe(false);
      });
    }
  });

  describe('hostile names and passwords', () => {
    const injection =
      family === 'postgres' ? `x"; DROP ROLE credflow_admin; --` : `x';DROP USER credflow_admin;--`;
    const names = [
      `o'hara`,
      `dq"uote`,
      'back`tick',
      'back\\slash',
      'semi;colon',
      'per%cent',
      'dash--dash',
      'sp ace',
      'ü名',
      injection,
      ...(family === 'postgres' ? ['emoji 😀'] : []),
    ];
    const password = `p'"\`\\;%-- ü名 x'; DROP USER credflow_admin; --`;

    it.each(names)('round-trips %j: create, log in, list, drop', async (name) => {
      await engine.createUser(admin(), {
        username: name,
        password,
        database: TEST_DATABASE,
        privileges: ['SELECT'],
        binding: BINDING,
      });
      expect(await engine.userExists(admin(), name)).toBe(true);
      expect(await engine.listUsers(admin())).toContain(name);
      await expect(engine.testLogin(creds(name, password))).resolves.toBeUndefined();
      await expect(
        sqlAs(family, creds(name, password), 'SELECT id FROM items WHERE id = 1'),
      ).resolves.toEqual([{ id: 1 }]);
      const clone = `${name}_c`;
      await engine.cloneUser(admin(), name, clone, password, BINDING);
      expect(await engine.listGrants(admin(), clone)).toEqual(await engine.listGrants(admin(), name));
      await engine.dropUser(admin(), clone);
      await engine.dropUser(admin(), name);
      expect(await engine.userExists(admin(), name)).toBe(false);
      // Nothing was injected: the admin is still there and still logs in.
      await expect(engine.testLogin(admin())).resolves.toBeUndefined();
    });

    it('creates names at the length limit and refuses longer ones without creating anything', async () => {
      const atLimit = family === 'postgres' ? `${'ü'.repeat(31)}a` : `${'ü'.repeat(31)}名`;
      const tooLong = family === 'postgres' ? `${'ü'.repeat(32)}` : `${'u'.repeat(33)}`;
      expect(() => engine.validateUsername(atLimit)).not.toThrow();
      await engine.createUser(admin(), {
        username: atLimit,
        password,
        database: TEST_DATABASE,
        privileges: ['SELECT'],
        binding: BINDING,
      });
      await expect(engine.testLogin(creds(atLimit, password))).resolves.toBeUndefined();
      await engine.dropUser(admin(), atLimit);

      const before = await engine.listUsers(admin());
      await expect(
        engine.createUser(admin(), {
          username: tooLong,
          password,
          database: TEST_DATABASE,
          privileges: ['SELECT'],
          binding: BINDING,
        }),
      ).rejects.toBeInstanceOf(ValidationError);
      await expect(engine.cloneUser(admin(), 'anyone', tooLong, password, BINDING)).rejects.toBeInstanceOf(
        ValidationError,
      );
      expect(await engine.listUsers(admin())).toEqual(before);
    });

    it.each([
      ['empty', ''],
      ['NUL', 'a\0b'],
      ['newline', 'a\nb'],
      ['leading space', ' lead'],
      ['trailing space', 'trail '],
    ])('refuses a %s username with ValidationError', async (_label, bad) => {
      await expect(
        engine.createUser(admin(), {
          username: bad,
          password,
          database: TEST_DATABASE,
          privileges: ['SELECT'],
          binding: BINDING,
        }),
      ).rejects.toBeInstanceOf(ValidationError);
    });
  });
});

/**
 * The privilege boundary on both engines (issue 12): a user is bound to one secret when it is
 * created, and the master refuses to change any user that is not bound to the asking secret:
 * the master itself, system and RDS accounts, users made outside credflow, users of other
 * secrets. Grants go only into application databases. Every refusal is a ValidationError and
 * leaves the database as it was (checked by logging in with the old password).
 */
import path from 'node:path';
import { Client as PgClient } from 'pg';
import { engineFor } from '../../src/engines';
import { notBoundError } from '../../src/engines/common';
import { bindingComment } from '../../src/engines/postgres/catalog';
import type { Credentials, DatabaseEngine } from '../../src/engines/types';
import { NotFoundError, ValidationError } from '../../src/errors';
import { rejection } from '../support/rejection';
import { startTestServers, TEST_DATABASE, type TestServers } from '../support/servers';
import { type Family, sqlAs } from '../support/sql';

const MINE = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:credflow/db/mine-AAAAAA';
const THEIRS = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:credflow/db/theirs-BBBBBB';

let servers: TestServers;

beforeAll(async () => {
  servers = await startTestServers();
}, 120_000);

afterAll(async () => {
  await servers?.stop();
});

describe.each<Family>(['postgres', 'mysql'])('%s: the privilege boundary', (family) => {
  let engine: DatabaseEngine;
  let seq = 0;
  const admin = () => servers[family].admin;
  /** Logs in to the server's default database: users made by hand have no grants on appdb. */
  const creds = (username: string, password: string): Credentials => ({
    host: admin().host,
    port: admin().port,
    username,
    password,
  });
  const fresh = (stem: string) => `${stem}${++seq}`;
  const create = (username: string, password: string, binding = MINE) =>
    engine.createUser(admin(), {
      username,
      password,
      database: TEST_DATABASE,
      privileges: ['SELECT'],
      binding,
    });
  /** A user made by hand, as a DBA would, outside credflow. */
  const createByHand = async (username: string, password: string) => {
    if (family === 'postgres') {
      await sqlAs(family, admin(), `CREATE ROLE "${username}" LOGIN PASSWORD '${password}'`);
    } else {
      await sqlAs(family, admin(), `CREATE USER ?@'%' IDENTIFIED BY ?`, [username, password]);
    }
  };

  beforeAll(() => {
    engine = engineFor(family);
  });

  it('records the binding with the user: bindingsOf names the secret, and nothing for a user made by hand', async () => {
    const bound = fresh('bound');
    const byHand = fresh('byhand');
    await create(bound, 'Bound-pw-1');
    await createByHand(byHand, 'Hand-pw-1');
    const found = await engine.bindingsOf(admin(), [bound, byHand, 'nobody_at_all']);
    expect(found[bound]).toEqual({ exists: true, binding: MINE });
    expect(found[byHand]).toEqual({ exists: true, binding: undefined });
    expect(found['nobody_at_all']).toEqual({ exists: false, binding: undefined });
  });

  it('setPassword changes a user bound to the asking secret', async () => {
    const name = fresh('mine');
    await create(name, 'Mine-pw-1');
    await engine.setPassword(admin(), name, 'Mine-pw-2', MINE);
    await expect(engine.testLogin(creds(name, 'Mine-pw-2'))).resolves.toBeUndefined();
  });

  it('refuses a user bound to another secret, and one made by hand; their passwords stay', async () => {
    const theirs = fresh('theirs');
    const byHand = fresh('dba');
    await create(theirs, 'Theirs-pw-1', THEIRS);
    await createByHand(byHand, 'Dba-pw-1');
    for (const [name, pw] of [
      [theirs, 'Theirs-pw-1'],
      [byHand, 'Dba-pw-1'],
    ] as const) {
      const err = await rejection(engine.setPassword(admin(), name, 'Stolen-pw-1', MINE));
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).not.toContain(THEIRS);
      await expect(engine.testLogin(creds(name, pw))).resolves.toBeUndefined();
    }
  });

  it('refuses the master itself and system accounts before any SQL', async () => {
    const system =
      family === 'postgres'
        ? ['rdsadmin', 'rds_superuser', 'pg_monitor', 'postgres']
        : ['root', 'rdsadmin', 'mysql.sys', 'mariadb.sys', 'mysql.session'];
    for (const name of [admin().username, ...system]) {
      await expect(engine.setPassword(admin(), name, 'Stolen-pw-1', MINE)).rejects.toBeInstanceOf(
        ValidationError,
      );
      await expect(create(name, 'Stolen-pw-1')).rejects.toBeInstanceOf(ValidationError);
    }
    // A wrong admin password would fail the login; a refusal before SQL never tries it.
    const offline = { ...admin(), password: 'not-the-password' };
    await expect(engine.setPassword(offline, admin().username, 'x-1', MINE)).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(engine.testLogin(admin())).resolves.toBeUndefined();
  });

  it('cloneUser refuses the master as source, and an existing clone it does not own', async () => {
    const err = await rejection(
      engine.cloneUser(admin(), admin().username, 'master_twin', 'Twin-pw-1', MINE),
    );
    expect(err).toBeInstanceOf(ValidationError);
    expect(await engine.userExists(admin(), 'master_twin')).toBe(false);

    const name = fresh('pair');
    await create(name, 'Pair-pw-1');
    const squatter = `${name}_clone`;
    await createByHand(squatter, 'Squat-pw-1');
    await expect(engine.cloneUser(admin(), name, squatter, 'Clone-pw-1', MINE)).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(engine.testLogin(creds(squatter, 'Squat-pw-1'))).resolves.toBeUndefined();
  });

  it('cloneUser binds the clone it creates, so the pair can alternate', async () => {
    const name = fresh('alt');
    await create(name, 'Alt-pw-1');
    await engine.cloneUser(admin(), name, `${name}_clone`, 'Alt-clone-1', MINE);
    expect((await engine.bindingsOf(admin(), [`${name}_clone`]))[`${name}_clone`]?.binding).toBe(MINE);
    await engine.cloneUser(admin(), `${name}_clone`, name, 'Alt-pw-2', MINE);
    await expect(engine.testLogin(creds(name, 'Alt-pw-2'))).resolves.toBeUndefined();
    // Another secret cannot use the pair.
    await expect(engine.cloneUser(admin(), name, `${name}_clone`, 'Stolen-1', THEIRS)).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it('grants only into application databases', async () => {
    const system =
      family === 'postgres'
        ? ['template0', 'template1', 'rdsadmin', 'information_schema']
        : ['mysql', 'sys', 'performance_schema', 'information_schema', 'MySQL', '_credflow'];
    for (const database of system) {
      const name = fresh('sysdb');
      await expect(
        engine.createUser(admin(), {
          username: name,
          password: 'Sys-pw-1',
          database,
          privileges: ['ALL'],
          binding: MINE,
        }),
      ).rejects.toBeInstanceOf(ValidationError);
      expect(await engine.userExists(admin(), name)).toBe(false);
    }
  });

  it('an application user cannot write its own binding', async () => {
    const name = fresh('selfbind');
    await create(name, 'Self-pw-1', THEIRS);
    const me = creds(name, 'Self-pw-1');
    if (family === 'postgres') {
      await expect(
        sqlAs(family, me, `COMMENT ON ROLE "${name}" IS 'credflow:secret=${MINE}'`),
      ).rejects.toThrow(/permission denied|must have CREATEROLE|must be/i);
    } else {
      await expect(
        sqlAs(family, me, 'UPDATE `_credflow`.`bindings` SET secret_arn = ? WHERE username = ?', [
          MINE,
          name,
        ]),
      ).rejects.toThrow(/denied/i);
    }
    expect((await engine.bindingsOf(admin(), [name]))[name]?.binding).toBe(THEIRS);
  });

  if (family === 'postgres') {
    it("a tenant's own table in public neither stops create-user nor is granted by it", async () => {
      const tenant = fresh('tenant');
      await engine.createUser(admin(), {
        username: tenant,
        password: 'Tenant-pw-1',
        database: TEST_DATABASE,
        privileges: ['ALL'],
        binding: THEIRS,
      });
      const inApp = (c: Credentials) => ({ ...c, dbname: TEST_DATABASE });
      const masters = `master_t${seq}`;
      const tenants = `tenant_t${seq}`;
      await sqlAs(family, inApp(admin()), `CREATE TABLE public.${masters} (id int)`);
      await sqlAs(
        family,
        inApp(creds(tenant, 'Tenant-pw-1')),
        `CREATE TABLE public.${tenants} (id int); CREATE SEQUENCE public.${tenants}_seq`,
      );
      const reader = fresh('reader');
      await engine.createUser(admin(), {
        username: reader,
        password: 'Reader-pw-1',
        database: TEST_DATABASE,
        privileges: ['SELECT', 'INSERT'],
        binding: MINE,
      });
      const asReader = inApp(creds(reader, 'Reader-pw-1'));
      await expect(sqlAs(family, asReader, `SELECT * FROM public.${masters}`)).resolves.toEqual([]);
      await expect(sqlAs(family, asReader, `SELECT * FROM public.${tenants}`)).rejects.toThrow(
        /permission denied/,
      );
      // The tenant decides who reads its table: its own grant works as before.
      await sqlAs(
        family,
        inApp(creds(tenant, 'Tenant-pw-1')),
        `GRANT SELECT ON public.${tenants} TO "${reader}"`,
      );
      await expect(sqlAs(family, asReader, `SELECT * FROM public.${tenants}`)).resolves.toEqual([]);
    });
  }

  it('setPassword of a user that does not exist: NotFoundError naming it, and no user is made', async () => {
    const name = fresh('ghost');
    const err = await rejection(engine.setPassword(admin(), name, 'Ghost-pw-1', MINE));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe(
      family === 'postgres' ? `role "${name}" does not exist` : `user "${name}"@'%' does not exist`,
    );
    expect(await engine.userExists(admin(), name)).toBe(false);
  });

  if (family === 'postgres') {
    it('refuses a superuser even when its comment binds it to the secret: credflow says so, not the server', async () => {
      // Only the server's bootstrap superuser (RDS's rdsadmin; here over the launcher's socket)
      // can make a superuser; the master cannot.
      const name = fresh('superbound');
      const socket = servers.postgres.server.socketPath;
      const root = new PgClient({
        host: path.dirname(socket),
        port: servers.postgres.admin.port,
        user: 'rdsadmin',
        database: 'postgres',
      });
      await root.connect();
      try {
        await root.query(`CREATE ROLE "${name}" SUPERUSER LOGIN PASSWORD 'Super-pw-1'`);
        await root.query(`COMMENT ON ROLE "${name}" IS '${bindingComment(MINE)}'`);
      } finally {
        await root.end();
      }
      const err = await rejection(engine.setPassword(admin(), name, 'Stolen-pw-1', MINE));
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toBe(notBoundError(name).message);
      await expect(engine.testLogin(creds(name, 'Super-pw-1'))).resolves.toBeUndefined();
    });
  }

  if (family === 'mysql') {
    it('refuses a bound row for an account with global privileges (an admin is never an application user)', async () => {
      // credflow's first createUser makes the bindings table (whatever ran before this test).
      await create(fresh('anchor'), 'Anchor-pw-1');
      const name = fresh('globaladm');
      await createByHand(name, 'Global-pw-1');
      // Global privileges and, as an admin account usually has, a database grant besides.
      await sqlAs(family, admin(), `GRANT SELECT ON *.* TO ?@'%'`, [name]);
      await sqlAs(family, admin(), `GRANT INSERT ON ${TEST_DATABASE}.* TO ?@'%'`, [name]);
      await sqlAs(
        family,
        admin(),
        'INSERT INTO `_credflow`.`bindings` (username, secret_arn) VALUES (?, ?)',
        [name, MINE],
      );
      await expect(engine.setPassword(admin(), name, 'Stolen-pw-1', MINE)).rejects.toBeInstanceOf(
        ValidationError,
      );
      await expect(engine.testLogin(creds(name, 'Global-pw-1'))).resolves.toBeUndefined();
    });
  }
});

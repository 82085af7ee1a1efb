/**
 * The master the local servers give is the master RDS gives: enough to manage users and grants,
 * not a superuser. Each refusal here is one RDS would answer with too.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import { Client } from 'pg';
import { tlsOptions } from '../../src/engines/common';
import { startTestServers, TEST_DATABASE, type TestServers } from '../support/servers';
import { itWhen } from '../support/skip';

let servers: TestServers;
beforeAll(async () => {
  servers = await startTestServers();
}, 120_000);
afterAll(async () => {
  await servers?.stop();
});

/** The effective uid of a live process, from /proc. */
function uidOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Uid:'));
  return Number(line?.split(/\s+/)[2]);
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

describe('MariaDB as RDS for MySQL/MariaDB runs it', () => {
  let master: Connection;
  beforeAll(async () => {
    const a = servers.mysql.admin;
    master = await mysql.createConnection({
      host: a.host,
      port: a.port,
      user: a.username,
      password: a.password,
      multipleStatements: false,
    });
  });
  afterAll(async () => {
    await master?.end();
  });

  itWhen(asRoot, 'needs root: only a root test run can start MariaDB as another OS user')(
    'runs as the unprivileged `mysql` OS user, never root',
    () => {
      const uid = uidOf(servers.mysql.server.pid);
      expect(uid).not.toBe(0);
      expect(uid).toBe(Number(readFileSync('/etc/passwd', 'utf8').match(/^mysql:[^:]*:(\d+):/m)?.[1]));
    },
  );

  it('confines secure_file_priv to a directory inside the instance', async () => {
    const [rows] = await master.query<RowDataPacket[]>('SELECT @@secure_file_priv AS dir');
    const dir = String(rows[0]?.['dir']);
    expect(dir.startsWith(servers.mysql.server.dataDir)).toBe(true);
  });

  it("the master cannot write or read the server's files: INTO OUTFILE and LOAD_FILE fail", async () => {
    const target = `/tmp/credflow-outfile-${process.pid}`;
    rmSync(target, { force: true });
    await expect(master.query(`SELECT 1 INTO OUTFILE '${target}'`)).rejects.toMatchObject({
      code: expect.stringMatching(
        /ER_(ACCESS_DENIED_ERROR|SPECIFIC_ACCESS_DENIED_ERROR|OPTION_PREVENTS_STATEMENT)/,
      ),
    });
    expect(existsSync(target)).toBe(false);
    const [rows] = await master.query<RowDataPacket[]>("SELECT LOAD_FILE('/etc/passwd') AS f");
    expect(rows[0]?.['f']).toBeNull();
  });

  it('has RDS master privileges WITH GRANT OPTION: no SUPER, FILE, SHUTDOWN or ALL PRIVILEGES', async () => {
    const [rows] = await master.query<RowDataPacket[]>('SHOW GRANTS');
    const grants = rows.map((r) => String(Object.values(r)[0])).join('\n');
    expect(grants).toMatch(/ON \*\.\* TO .* WITH GRANT OPTION/);
    expect(grants).toContain('CREATE USER');
    expect(grants).not.toMatch(/ALL PRIVILEGES|SUPER|\bFILE\b|SHUTDOWN|CREATE TABLESPACE/);
    await expect(master.query('SET GLOBAL max_connections = 300')).rejects.toMatchObject({
      code: 'ER_SPECIFIC_ACCESS_DENIED_ERROR',
    });
    await expect(master.query('SHUTDOWN')).rejects.toBeTruthy();
  });

  it('can still manage users: create, alter, grant with grant option, copy grants, drop', async () => {
    await master.query('CREATE DATABASE IF NOT EXISTS `_credflow`');
    await master.query(
      'CREATE TABLE IF NOT EXISTS `_credflow`.`bindings` (username VARCHAR(80) PRIMARY KEY, secret VARCHAR(2048))',
    );
    await master.query("INSERT INTO `_credflow`.`bindings` VALUES ('app_user', 'arn')");
    await master.query("CREATE USER 'app_user'@'%' IDENTIFIED BY 'App-pw-1'");
    await master.query(`GRANT SELECT, INSERT ON \`${TEST_DATABASE}\`.* TO 'app_user'@'%' WITH GRANT OPTION`);
    await master.query(`GRANT ALL PRIVILEGES ON \`${TEST_DATABASE}\`.* TO 'app_user'@'%'`);
    await master.query("ALTER USER 'app_user'@'%' IDENTIFIED BY 'App-pw-2'");
    const [grants] = await master.query<RowDataPacket[]>("SHOW GRANTS FOR 'app_user'@'%'");
    expect(grants.map((r) => String(Object.values(r)[0])).join('\n')).toContain(`\`${TEST_DATABASE}\``);
    const user = await mysql.createConnection({
      host: servers.mysql.admin.host,
      port: servers.mysql.admin.port,
      user: 'app_user',
      password: 'App-pw-2',
      database: TEST_DATABASE,
    });
    await user.end();
    await master.query("DROP USER 'app_user'@'%'");
    await master.query('DROP DATABASE `_credflow`');
  });
});

describe('PostgreSQL master as RDS gives it', () => {
  let master: Client;
  beforeAll(async () => {
    const a = servers.postgres.admin;
    master = new Client({
      host: a.host,
      port: a.port,
      user: a.username,
      password: a.password,
      database: TEST_DATABASE,
      ssl: tlsOptions({}),
    });
    await master.connect();
  });
  afterAll(async () => {
    await master?.end();
  });

  it('is a CREATEROLE, CREATEDB member of rds_superuser, not a superuser; owns the initial database', async () => {
    const me = await master.query(
      `SELECT rolsuper, rolcreaterole, rolcreatedb, pg_has_role(current_user, 'rds_superuser', 'MEMBER') AS rds,
              (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()) AS owner
         FROM pg_roles WHERE rolname = current_user`,
    );
    expect(me.rows[0]).toEqual({
      rolsuper: false,
      rolcreaterole: true,
      rolcreatedb: true,
      rds: true,
      owner: servers.postgres.admin.username,
    });
    const admin = await master.query("SELECT rolsuper, rolcanlogin FROM pg_roles WHERE rolname = 'rdsadmin'");
    expect(admin.rows[0]).toEqual({ rolsuper: true, rolcanlogin: true });
  });

  it('cannot make itself superuser, read pg_authid, or write server files', async () => {
    const name = servers.postgres.admin.username;
    await expect(master.query(`ALTER ROLE "${name}" SUPERUSER`)).rejects.toMatchObject({ code: '42501' });
    await expect(master.query('SELECT rolpassword FROM pg_authid')).rejects.toMatchObject({ code: '42501' });
    const target = `/tmp/credflow-copy-${process.pid}`;
    await expect(master.query(`COPY (SELECT 1) TO '${target}'`)).rejects.toMatchObject({ code: '42501' });
    expect(existsSync(target)).toBe(false);
    await expect(master.query("SELECT pg_read_file('/etc/passwd')")).rejects.toMatchObject({ code: '42501' });
    await expect(master.query("ALTER ROLE rdsadmin PASSWORD 'x'")).rejects.toMatchObject({ code: '42501' });
  });

  it('manages roles: create, comment, grant in its database, grant membership, change a password', async () => {
    await master.query('CREATE ROLE app_reader NOLOGIN');
    await master.query("CREATE ROLE app_user LOGIN PASSWORD 'App-pw-1'");
    await master.query("COMMENT ON ROLE app_user IS 'credflow:bound'");
    await master.query(`GRANT CONNECT ON DATABASE "${TEST_DATABASE}" TO app_user`);
    await master.query('GRANT USAGE ON SCHEMA public TO app_reader');
    await master.query('GRANT app_reader TO app_user');
    await master.query("ALTER ROLE app_user PASSWORD 'App-pw-2'");
    const c = await master.query(
      "SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = 'app_user'",
    );
    expect(c.rows[0]?.comment).toBe('credflow:bound');
    const user = new Client({
      host: servers.postgres.admin.host,
      port: servers.postgres.admin.port,
      user: 'app_user',
      password: 'App-pw-2',
      database: TEST_DATABASE,
      ssl: tlsOptions({}),
    });
    await user.connect();
    const member = await user.query("SELECT pg_has_role('app_reader', 'MEMBER') AS m");
    expect(member.rows[0]?.m).toBe(true);
    await user.end();
    await master.query(`REVOKE CONNECT ON DATABASE "${TEST_DATABASE}" FROM app_user`);
    await master.query('DROP ROLE app_user');
    await master.query('REVOKE USAGE ON SCHEMA public FROM app_reader');
    await master.query('DROP ROLE app_reader');
  });

  it('snapshots (dumps) are made as the admin, not the master', async () => {
    const file = path.join(servers.dir, 'pg.sql');
    await master.query('CREATE TABLE IF NOT EXISTS dumped (v int)');
    await servers.postgres.server.dump(file, TEST_DATABASE);
    expect(readFileSync(file, 'utf8')).toContain('CREATE TABLE public.dumped');
    const mfile = path.join(servers.dir, 'maria.sql');
    await servers.mysql.server.dump(mfile, TEST_DATABASE);
    expect(readFileSync(mfile, 'utf8')).toContain(
      `CREATE DATABASE /*!32312 IF NOT EXISTS*/ \`${TEST_DATABASE}\``,
    );
  });
});

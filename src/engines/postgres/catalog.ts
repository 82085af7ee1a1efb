/**
 * PostgreSQL's catalog as credflow reads it: the role row, where the binding lives, the query
 * that lists a role's effective privileges, the keywords a privilege request becomes, and the
 * SQLSTATEs that mean "refused" or "try again". The statements that change anything are in
 * ./engine.ts.
 */
import type { Privilege } from '../types';

/** SQLSTATEs that mean "these credentials do not log in". */
export const AUTH_STATES = new Set(['28P01', '28000']);
/** SQLSTATEs worth retrying: shutdown, startup, overload, conflicts, timeouts. */
export const TRANSIENT_STATES = new Set([
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '53200',
  '53100',
  '40001',
  '40P01',
  '55P03',
  '57014',
]);
export const TRANSIENT_MESSAGE =
  /connection terminated|timeout|connection ended|server closed the connection/i;

export interface RoleRow {
  oid: number;
  rolcanlogin: boolean;
  rolsuper: boolean;
  rolcreatedb: boolean;
  rolcreaterole: boolean;
  rolconnlimit: number;
  /** The role's comment (pg_shdescription), where credflow records the binding. */
  comment: string | null;
}

/**
 * The binding lives in the role's comment: shared across databases like the role itself, and
 * only roles with CREATEROLE (the master) may set it, never the application user.
 */
export const BINDING_PREFIX = 'credflow:secret=';

export function bindingComment(binding: string): string {
  return `${BINDING_PREFIX}${binding}`;
}

export function bindingOf(role: RoleRow): string | undefined {
  return role.comment?.startsWith(BINDING_PREFIX) ? role.comment.slice(BINDING_PREFIX.length) : undefined;
}

/** Schemas that belong to the system, not to applications. */
export const USER_SCHEMAS = "n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'";

/**
 * Effective privileges of role $1 on every object of the current database, as
 * (kind, object, privilege). has_*_privilege follows role membership, so a clone that is a
 * member of its source sees exactly what the source sees. Default privileges count for the
 * roles whose privileges $1 uses; "(self)" stands for $1 so names never leak into the result.
 */
export const OBJECT_PRIVILEGES_SQL = `
SELECT 'SCHEMA' AS kind, quote_ident(n.nspname) AS object, p.priv
FROM pg_namespace n CROSS JOIN unnest(ARRAY['USAGE', 'CREATE']) AS p(priv)
WHERE ${USER_SCHEMAS} AND has_schema_privilege($1, n.oid, p.priv)
UNION ALL
SELECT 'TABLE', quote_ident(n.nspname) || '.' || quote_ident(c.relname), p.priv
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p(priv)
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${USER_SCHEMAS} AND has_table_privilege($1, c.oid, p.priv)
UNION ALL
SELECT 'SEQUENCE', quote_ident(n.nspname) || '.' || quote_ident(c.relname), p.priv
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) AS p(priv)
WHERE c.relkind = 'S' AND ${USER_SCHEMAS} AND has_sequence_privilege($1, c.oid, p.priv)
UNION ALL
SELECT 'DEFAULT ' || CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES'
         WHEN 'f' THEN 'FUNCTIONS' WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END,
       coalesce(quote_ident(n.nspname), '*') || ' FOR ' ||
         CASE WHEN r.rolname = $1 THEN '(self)' ELSE quote_ident(r.rolname) END,
       a.privilege_type
FROM pg_default_acl d
JOIN pg_roles r ON r.oid = d.defaclrole
LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
CROSS JOIN LATERAL aclexplode(d.defaclacl) AS a
WHERE a.grantee <> 0 AND pg_has_role($1, a.grantee, 'USAGE')`;

/** Per-table privilege keywords for each requested privilege. */
export const TABLE_PRIVILEGE: Partial<Record<Privilege, string>> = {
  SELECT: 'SELECT',
  INSERT: 'INSERT',
  UPDATE: 'UPDATE',
  DELETE: 'DELETE',
};

/** What a privilege request becomes on each kind of object. */
export interface PrivilegeKeywords {
  all: boolean;
  tablePrivileges: string[];
  sequencePrivileges: string[];
  schemaPrivileges: string[];
}

/** The keywords each kind of object gets for the privileges a user asked for (see createUser). */
export function privilegeKeywords(privileges: readonly Privilege[]): PrivilegeKeywords {
  const all = privileges.includes('ALL');
  return {
    all,
    tablePrivileges: all
      ? ['ALL PRIVILEGES']
      : privileges.map((p) => TABLE_PRIVILEGE[p]).filter((k): k is string => k !== undefined),
    sequencePrivileges: all
      ? ['ALL PRIVILEGES']
      : [
          ...(privileges.includes('INSERT') || privileges.includes('UPDATE') ? ['USAGE'] : []),
          ...(privileges.includes('SELECT') ? ['SELECT'] : []),
        ],
    schemaPrivileges: all || privileges.includes('CREATE') ? ['USAGE', 'CREATE'] : ['USAGE'],
  };
}

/** The NOLOGIN roles (groups) role $1 uses, quoted. */
export const GROUPS_SQL = `SELECT quote_ident(g.rolname) AS name FROM pg_roles g
       WHERE NOT g.rolcanlogin AND g.rolname <> $1 AND pg_has_role($1, g.oid, 'USAGE')`;

/** Role $1's privileges on each non-template database, quoted. */
export const DATABASE_PRIVILEGES_SQL = `SELECT quote_ident(d.datname) AS name, p.priv
       FROM pg_database d CROSS JOIN unnest(ARRAY['CONNECT', 'CREATE', 'TEMPORARY']) AS p(priv)
       WHERE NOT d.datistemplate AND has_database_privilege($1, d.oid, p.priv)`;

/** Role $1's row: attributes and the comment that holds its binding. */
export const ROLE_SQL = `SELECT oid, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolconnlimit,
          shobj_description(oid, 'pg_authid') AS comment
   FROM pg_roles WHERE rolname = $1`;

/** Databases the current user may connect to. */
export const CONNECTABLE_DATABASES_SQL = `SELECT datname FROM pg_database
   WHERE datallowconn AND NOT datistemplate AND has_database_privilege(current_user, oid, 'CONNECT')
   ORDER BY datname`;

/** Runs one statement in a session of the engine, translating failures (see engine.ts `run`). */
export type Query = <T = Record<string, unknown>>(
  action: string,
  sql: string,
  values?: unknown[],
) => Promise<T[]>;

/** A role's attributes, group memberships and database privileges, as listGrants entries. */
export async function roleEntries(query: Query, role: RoleRow, name: string): Promise<string[]> {
  const list: string[] = [];
  if (role.rolsuper) list.push('ROLE SUPERUSER');
  if (role.rolcreatedb) list.push('ROLE CREATEDB');
  if (role.rolcreaterole) list.push('ROLE CREATEROLE');
  if (Number(role.rolconnlimit) >= 0) list.push(`ROLE CONNECTION LIMIT ${role.rolconnlimit}`);
  for (const g of await query<{ name: string }>('list memberships', GROUPS_SQL, [name])) {
    list.push(`MEMBER OF ${g.name}`);
  }
  const databases = await query<{ name: string; priv: string }>(
    'list database privileges',
    DATABASE_PRIVILEGES_SQL,
    [name],
  );
  for (const d of databases) list.push(`DATABASE ${d.name}: ${d.priv}`);
  return list;
}

/** Adds each role's object privileges in the session's current database to its entries. */
export async function objectEntries(
  query: Query,
  entries: Map<string, string[]>,
  dbname: string,
): Promise<void> {
  const [q] = await query<{ q: string }>('quote name', 'SELECT quote_ident(current_database()) AS q');
  for (const [name, list] of entries) {
    const rows = await query<{ kind: string; object: string; priv: string }>(
      'list object privileges',
      OBJECT_PRIVILEGES_SQL,
      [name],
    );
    for (const r of rows) list.push(`${r.kind} ${q?.q ?? dbname}.${r.object}: ${r.priv}`);
  }
}

/**
 * The grants of a new user, run in its database in one transaction: CONNECT (or ALL) on the
 * database, USAGE (and CREATE) on schema public, the table and sequence privileges on what exists
 * and, through ALTER DEFAULT PRIVILEGES, on what the admin creates later. `role` and `database`
 * are quoted identifiers; the keywords come from privilegeKeywords only.
 */
export function grantStatements(role: string, database: string, k: PrivilegeKeywords): [string, string][] {
  const out: [string, string][] = [
    ['GRANT', `GRANT ${k.all ? 'ALL PRIVILEGES' : 'CONNECT'} ON DATABASE ${database} TO ${role}`],
    ['GRANT', `GRANT ${k.schemaPrivileges.join(', ')} ON SCHEMA public TO ${role}`],
  ];
  for (const [list, kind] of [
    [k.tablePrivileges, 'TABLES'],
    [k.sequencePrivileges, 'SEQUENCES'],
  ] as const) {
    if (list.length === 0) continue;
    out.push(['GRANT', `GRANT ${list.join(', ')} ON ALL ${kind} IN SCHEMA public TO ${role}`]);
    out.push([
      'ALTER DEFAULT PRIVILEGES',
      `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ${list.join(', ')} ON ${kind} TO ${role}`,
    ]);
  }
  return out;
}

export interface SessionRow {
  who: string;
  version: string;
  ssl: boolean | null;
  cipher: string | null;
}

/** The current login: role, server version and its TLS from pg_stat_ssl. */
export const SESSION_SQL = `SELECT current_user AS who, current_setting('server_version') AS version, s.ssl, s.cipher
FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()`;

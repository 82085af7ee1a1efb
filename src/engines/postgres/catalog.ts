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

/*
 * Every statement below is written to resolve no name a database user can define, though each
 * session also pins search_path to pg_catalog (see ./driver.ts): functions and operators are
 * schema-qualified (`pg_catalog.f(...)`, `OPERATOR(pg_catalog.=)`), catalog relations too, and
 * literals and parameters carry the exact type of the argument they fill. `IN`, `CASE x WHEN`
 * and `NOT LIKE` use an operator found through the path, so they are written as
 * `OPERATOR(pg_catalog.=) ANY`, `CASE WHEN x OPERATOR(pg_catalog.=) ...` and
 * `OPERATOR(pg_catalog.!~~)`. COALESCE, CURRENT_USER and ARRAY[] are grammar, not names.
 */

/** `a OPERATOR(pg_catalog.<op>) b`: an operator only pg_catalog can supply. */
const op = (symbol: string) => `OPERATOR(pg_catalog.${symbol})`;

/**
 * The grants credflow made: entries of an object's ACL whose grantee is role $1 or a role $1 uses
 * (never PUBLIC, oid 0) and whose grantor is the admin running the query, or pg_database_owner
 * in a database the admin owns (PostgreSQL 15+ records a GRANT on schema public under it). What
 * another tenant granted $1 on its own tables, or granted PUBLIC, is not credflow's and so not
 * drift. Owners' implicit privileges are not ACL entries and are not listed either. Every
 * function and operator is schema-qualified: the admin runs this inside application databases.
 */
const CREDFLOW_GRANTORS = `SELECT r.oid FROM pg_catalog.pg_roles r
  WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER
     OR (r.rolname OPERATOR(pg_catalog.=) 'pg_database_owner' AND EXISTS (
       SELECT 1 FROM pg_catalog.pg_database d JOIN pg_catalog.pg_roles o ON o.oid OPERATOR(pg_catalog.=) d.datdba
       WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()
         AND o.rolname OPERATOR(pg_catalog.=) CURRENT_USER))`;

/** Schemas that belong to the system, not to applications (qualified, see CREDFLOW_GRANTORS). */
const APPLICATION_SCHEMA = `n.nspname OPERATOR(pg_catalog.<>) 'information_schema'
  AND NOT n.nspname OPERATOR(pg_catalog.~~) 'pg\\_%'`;

/** `a`, an aclexplode row, is a grant credflow made to $1 (see CREDFLOW_GRANTORS). */
const CREDFLOW_GRANT = `a.grantee OPERATOR(pg_catalog.<>) 0::pg_catalog.oid
  AND pg_catalog.pg_has_role($1::pg_catalog.name, a.grantee, 'USAGE')
  AND EXISTS (SELECT 1 FROM grantors g WHERE g.oid OPERATOR(pg_catalog.=) a.grantor)`;

/**
 * credflow's grants to role $1 on the schemas, tables, views, sequences and default privileges of
 * the current database, as (kind, object, privilege).
 */
export const OBJECT_GRANTS_SQL = `
WITH grantors AS (${CREDFLOW_GRANTORS})
SELECT 'SCHEMA' AS kind, pg_catalog.quote_ident(n.nspname) AS object, a.privilege_type AS priv
FROM pg_catalog.pg_namespace n CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) AS a
WHERE ${APPLICATION_SCHEMA} AND ${CREDFLOW_GRANT}
UNION ALL
SELECT CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S'::pg_catalog."char" THEN 'SEQUENCE' ELSE 'TABLE' END,
       pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname),
       a.privilege_type
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) AS a
WHERE c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p,v,m,f,S}'::pg_catalog."char"[])
  AND ${APPLICATION_SCHEMA} AND ${CREDFLOW_GRANT}
UNION ALL
SELECT 'DEFAULT ' OPERATOR(pg_catalog.||) CASE
         WHEN d.defaclobjtype OPERATOR(pg_catalog.=) 'r'::pg_catalog."char" THEN 'TABLES'
         WHEN d.defaclobjtype OPERATOR(pg_catalog.=) 'S'::pg_catalog."char" THEN 'SEQUENCES'
         WHEN d.defaclobjtype OPERATOR(pg_catalog.=) 'f'::pg_catalog."char" THEN 'FUNCTIONS'
         WHEN d.defaclobjtype OPERATOR(pg_catalog.=) 'T'::pg_catalog."char" THEN 'TYPES'
         ELSE 'SCHEMAS' END,
       coalesce(pg_catalog.quote_ident(n.nspname), '*'),
       a.privilege_type
FROM pg_catalog.pg_default_acl d
LEFT JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) d.defaclnamespace
CROSS JOIN LATERAL pg_catalog.aclexplode(d.defaclacl) AS a
WHERE ${CREDFLOW_GRANT}`;

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
export const GROUPS_SQL = `SELECT pg_catalog.quote_ident(g.rolname::pg_catalog.text) AS name FROM pg_catalog.pg_roles g
       WHERE NOT g.rolcanlogin AND g.rolname ${op('<>')} $1::pg_catalog.name
         AND pg_catalog.pg_has_role($1::pg_catalog.name, g.oid, 'USAGE'::pg_catalog.text)`;

/**
 * credflow's grants to role $1 on databases (CONNECT, CREATE, TEMPORARY), quoted: on database $2
 * only, or on every non-template database when $2 is null. The grantor is the admin itself (a
 * database's ACL is shared by all of them, so pg_database_owner plays no part here).
 */
export const DATABASE_GRANTS_SQL = `
WITH grantors AS (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)
SELECT pg_catalog.quote_ident(d.datname) AS name, a.privilege_type AS priv
FROM pg_catalog.pg_database d CROSS JOIN LATERAL pg_catalog.aclexplode(d.datacl) AS a
WHERE NOT d.datistemplate
  AND ($2::pg_catalog.name IS NULL OR d.datname OPERATOR(pg_catalog.=) $2::pg_catalog.name)
  AND ${CREDFLOW_GRANT}`;

/** Role $1's row: attributes and the comment that holds its binding. */
export const ROLE_SQL = `SELECT oid, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolconnlimit,
          pg_catalog.shobj_description(oid, 'pg_authid'::pg_catalog.name) AS comment
   FROM pg_catalog.pg_roles WHERE rolname ${op('=')} $1::pg_catalog.name`;

/** Databases the current user may connect to. */
export const CONNECTABLE_DATABASES_SQL = `SELECT datname FROM pg_catalog.pg_database
   WHERE datallowconn AND NOT datistemplate
     AND pg_catalog.has_database_privilege(CURRENT_USER, oid, 'CONNECT'::pg_catalog.text)
   ORDER BY datname`;

/** Whether database $1 exists. */
export const DATABASE_EXISTS_SQL = `SELECT 1 FROM pg_catalog.pg_database WHERE datname ${op('=')} $1::pg_catalog.name`;

/** Whether role $1 is a member of role $2. */
export const IS_MEMBER_SQL = `SELECT pg_catalog.pg_has_role($1::pg_catalog.name, $2::pg_catalog.name, 'MEMBER'::pg_catalog.text) AS member`;

/** The roles role $1 is directly granted. */
export const MEMBERSHIPS_SQL = `SELECT r.rolname FROM pg_catalog.pg_auth_members m
   JOIN pg_catalog.pg_roles r ON r.oid ${op('=')} m.roleid
   JOIN pg_catalog.pg_roles u ON u.oid ${op('=')} m.member
   WHERE u.rolname ${op('=')} $1::pg_catalog.name`;

/** Roles that can log in, system roles (pg_*) excepted. */
export const LOGIN_ROLES_SQL = `SELECT rolname FROM pg_catalog.pg_roles
   WHERE rolcanlogin AND rolname ${op('!~~')} 'pg\\_%'::pg_catalog.text`;

/**
 * How many objects role $1 owns, in every database (pg_shdepend is shared): dropUser refuses such
 * a role rather than hand its functions, views or triggers to the master, which would then run
 * them with the master's rights.
 */
export const OWNED_OBJECTS_SQL = `SELECT pg_catalog.count(d.objid)::pg_catalog.int4 AS n FROM pg_catalog.pg_shdepend d
   JOIN pg_catalog.pg_roles r ON r.oid ${op('=')} d.refobjid
   WHERE r.rolname ${op('=')} $1::pg_catalog.name AND d.deptype ${op('=')} 'o'::pg_catalog."char"`;

/** Whether the current user is a superuser, and whether it is a member of role $1. */
export const ADMIN_SQL = `SELECT rolsuper,
          pg_catalog.pg_has_role(CURRENT_USER, $1::pg_catalog.name, 'MEMBER'::pg_catalog.text) AS member
   FROM pg_catalog.pg_roles WHERE rolname ${op('=')} CURRENT_USER`;

/** Runs one statement in a session of the engine, translating failures (see engine.ts `run`). */
export type Query = <T = Record<string, unknown>>(
  action: string,
  sql: string,
  values?: unknown[],
) => Promise<T[]>;

/**
 * A role's attributes, group memberships and database privileges, as listGrants entries: on
 * `database` only when given.
 */
export async function roleEntries(
  query: Query,
  role: RoleRow,
  name: string,
  database?: string,
): Promise<string[]> {
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
    DATABASE_GRANTS_SQL,
    [name, database ?? null],
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
  const [q] = await query<{ q: string }>(
    'quote name',
    'SELECT pg_catalog.quote_ident(pg_catalog.current_database()::pg_catalog.text) AS q',
  );
  for (const [name, list] of entries) {
    const rows = await query<{ kind: string; object: string; priv: string }>(
      'list object privileges',
      OBJECT_GRANTS_SQL,
      [name],
    );
    for (const r of rows) list.push(`${r.kind} ${q?.q ?? dbname}.${r.object}: ${r.priv}`);
  }
}

/**
 * The names of the relations of schema public the admin owns (directly or through a role it
 * inherits), of the kinds in $1 (pg_class.relkind). A new user is granted these, not
 * `ALL TABLES IN SCHEMA public`: a table another role owns is not the admin's to grant, and a
 * GRANT on an object where the admin holds no privilege at all is an error that would let any
 * user with CREATE on public make every later create-user on its database fail.
 */
export const OWNED_RELATIONS_SQL = `SELECT c.relname AS name
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid ${op('=')} c.relnamespace
WHERE n.nspname ${op('=')} 'public'::pg_catalog.name
  AND c.relkind ${op('=')} ANY ($1::pg_catalog."char"[])
  AND pg_catalog.pg_has_role(c.relowner, 'USAGE'::pg_catalog.text)
ORDER BY c.relname`;

/** pg_class.relkind of what GRANT ... ON TABLE and ON SEQUENCE accept. */
export const RELATION_KINDS = { TABLE: ['r', 'p', 'v', 'm', 'f'], SEQUENCE: ['S'] } as const;

/** Quoted, schema-qualified names of the relations the admin owns in schema public, by kind. */
export interface OwnedRelations {
  TABLE: string[];
  SEQUENCE: string[];
}

/**
 * The grants of a new user, run in its database in one transaction: CONNECT (or ALL) on the
 * database, USAGE (and CREATE) on schema public, the table and sequence privileges on the
 * relations of public the admin owns (`owned`, from OWNED_RELATIONS_SQL) and, through ALTER
 * DEFAULT PRIVILEGES, on what the admin creates there later. `role` and `database` are quoted
 * identifiers; the keywords come from privilegeKeywords only.
 */
export function grantStatements(
  role: string,
  database: string,
  k: PrivilegeKeywords,
  owned: OwnedRelations,
): [string, string][] {
  const out: [string, string][] = [
    ['GRANT', `GRANT ${k.all ? 'ALL PRIVILEGES' : 'CONNECT'} ON DATABASE ${database} TO ${role}`],
    ['GRANT', `GRANT ${k.schemaPrivileges.join(', ')} ON SCHEMA public TO ${role}`],
  ];
  for (const [list, kind] of [
    [k.tablePrivileges, 'TABLE'],
    [k.sequencePrivileges, 'SEQUENCE'],
  ] as const) {
    if (list.length === 0) continue;
    if (owned[kind].length > 0)
      out.push(['GRANT', `GRANT ${list.join(', ')} ON ${kind} ${owned[kind].join(', ')} TO ${role}`]);
    out.push([
      'ALTER DEFAULT PRIVILEGES',
      `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ${list.join(', ')} ON ${kind}S TO ${role}`,
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
export const SESSION_SQL = `SELECT CURRENT_USER AS who,
       pg_catalog.current_setting('server_version'::pg_catalog.text) AS version, s.ssl, s.cipher
FROM pg_catalog.pg_stat_ssl s WHERE s.pid ${op('=')} pg_catalog.pg_backend_pid()`;

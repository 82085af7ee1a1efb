/**
 * What adopting an existing PostgreSQL role needs from the catalog, and the one statement it
 * sends: the role's attributes, every role it is a member of (directly or through other roles),
 * and its binding (the role comment create-user writes). Every function and operator is
 * schema-qualified: these run as the master, and the session's search_path is not trusted.
 */
import type { AdoptionFacts } from '../types';
import { BINDING_PREFIX, bindingComment, type Query } from './catalog';
import { escapeIdentifier, escapeLiteral } from './driver';

interface AdoptionRow {
  rolsuper: boolean;
  rolcreaterole: boolean;
  rolcreatedb: boolean;
  rolreplication: boolean;
  rolbypassrls: boolean;
  comment: string | null;
}

const ROLE_ADOPTION_SQL = `SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
       pg_catalog.shobj_description(r.oid, 'pg_authid') AS comment
  FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) $1`;

/** Every role $1 is a member of, through any chain of memberships (not itself). */
const MEMBER_OF_SQL = `SELECT g.rolname FROM pg_catalog.pg_roles g, pg_catalog.pg_roles u
 WHERE u.rolname OPERATOR(pg_catalog.=) $1 AND g.oid OPERATOR(pg_catalog.<>) u.oid
   AND pg_catalog.pg_has_role(u.oid, g.oid, 'MEMBER') ORDER BY g.rolname`;

/** The roles $1 is granted directly. */
const DIRECT_MEMBER_OF_SQL = `SELECT g.rolname FROM pg_catalog.pg_auth_members m
  JOIN pg_catalog.pg_roles g ON g.oid OPERATOR(pg_catalog.=) m.roleid
  JOIN pg_catalog.pg_roles u ON u.oid OPERATOR(pg_catalog.=) m.member
 WHERE u.rolname OPERATOR(pg_catalog.=) $1 ORDER BY g.rolname`;

/** Roles whose members hold system-wide power on RDS or PostgreSQL. */
const ELEVATED_ROLE = /^(rds_|rdsadmin$|pg_)/i;

/** The facts about one role; undefined when it does not exist. */
export async function adoptionFacts(query: Query, username: string): Promise<AdoptionFacts> {
  const [row] = await query<AdoptionRow>('look up role', ROLE_ADOPTION_SQL, [username]);
  if (!row) return { exists: false, binding: undefined, elevated: [], memberOf: [], directMemberOf: [] };
  const memberOf = (await query<{ rolname: string }>('list memberships', MEMBER_OF_SQL, [username])).map(
    (r) => r.rolname,
  );
  const direct = (await query<{ rolname: string }>('list memberships', DIRECT_MEMBER_OF_SQL, [username])).map(
    (r) => r.rolname,
  );
  const elevated = [
    ...(row.rolsuper ? ['SUPERUSER'] : []),
    ...(row.rolcreaterole ? ['CREATEROLE'] : []),
    ...(row.rolcreatedb ? ['CREATEDB'] : []),
    ...(row.rolreplication ? ['REPLICATION'] : []),
    ...(row.rolbypassrls ? ['BYPASSRLS'] : []),
    ...memberOf.filter((r) => ELEVATED_ROLE.test(r)).map((r) => `member of ${r}`),
  ];
  const comment = row.comment;
  return {
    exists: true,
    binding: comment?.startsWith(BINDING_PREFIX) ? comment.slice(BINDING_PREFIX.length) : undefined,
    foreignNote: comment && !comment.startsWith(BINDING_PREFIX) ? true : undefined,
    elevated,
    memberOf,
    directMemberOf: direct,
  };
}

/** Records the binding on an existing role (the role comment, as create-user writes it). */
export async function bindRole(query: Query, username: string, binding: string): Promise<void> {
  await query(
    'COMMENT ON ROLE',
    `COMMENT ON ROLE ${escapeIdentifier(username)} IS ${escapeLiteral(bindingComment(binding))}`,
  );
}

/** Removes the binding from a role (the comment goes). */
export async function unbindRole(query: Query, username: string): Promise<void> {
  await query('COMMENT ON ROLE', `COMMENT ON ROLE ${escapeIdentifier(username)} IS NULL`);
}

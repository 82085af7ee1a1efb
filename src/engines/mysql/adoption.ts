/**
 * What adopting an existing MySQL-family user needs: whether it holds anything beyond
 * database-level privileges on application databases (global privileges, grants on a system
 * database, roles, whose privileges are not visible in its own SHOW GRANTS), and its binding
 * in `_credflow`.bindings, which create-user writes and adoption writes the same way.
 */
import { SYSTEM_DATABASES } from '../common';
import type { AdoptionFacts } from '../types';
import { bind, bindingOf, type Query, unbind } from './bindings';
import type { ParsedGrant } from './grants';

/** The database a grant's object names (`db`.* or `db`.`t`), unquoted; undefined for *.* */
function databaseOf(object: string): string | undefined {
  const m = /^`((?:[^`]|``)*)`\./.exec(object);
  return m?.[1]?.replace(/``/g, '`').replace(/\\([_%\\])/g, '$1');
}

/** What a user holds beyond database-level privileges on application databases. */
export function elevatedGrants(grants: readonly ParsedGrant[]): string[] {
  const out: string[] = [];
  for (const g of grants) {
    if (g.verb !== 'GRANT') continue;
    if (g.object === undefined) {
      out.push(...g.privileges.map((r) => `role ${r}`));
      continue;
    }
    const privileges = g.privileges.filter((p) => p.toUpperCase() !== 'USAGE');
    if (g.object.startsWith('*.*')) {
      out.push(...privileges.map((p) => `${p} ON *.*`));
      if (g.options.includes('GRANT OPTION')) out.push('GRANT OPTION ON *.*');
      continue;
    }
    const db = databaseOf(g.object);
    if (db !== undefined && SYSTEM_DATABASES.includes(db.toLowerCase()) && privileges.length > 0) {
      out.push(...privileges.map((p) => `${p} ON ${g.object}`));
    }
  }
  return out;
}

/** The facts about `username`@'%', given whether it exists and its parsed SHOW GRANTS. */
export async function adoptionFacts(
  query: Query,
  username: string,
  grants: readonly ParsedGrant[] | undefined,
): Promise<AdoptionFacts> {
  if (!grants) return { exists: false, binding: undefined, elevated: [], memberOf: [], directMemberOf: [] };
  return {
    exists: true,
    binding: await bindingOf(query, username),
    elevated: elevatedGrants(grants),
    memberOf: [],
    directMemberOf: [],
  };
}

export { bind as bindUser, unbind as unbindUser };

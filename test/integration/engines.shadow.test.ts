/**
 * The master never runs a database user's code. The most privileged user credflow creates (ALL
 * on its database: on PostgreSQL CREATE on the database and on schema public) plants a shadow
 * for every function and operator name the engines send, wherever a session could resolve it
 * (PostgreSQL: schema public, a schema named after the master, one named after itself and one
 * after each other user; MySQL/MariaDB: stored functions, procedures, views and triggers in its
 * database). Each shadow writes to a trap that survives a rollback. Then every workflow that
 * opens a master or user session on that database runs, on the local cloud's own RDS instances:
 * the trap stays empty, and every workflow succeeds.
 *
 * The names are not listed by hand: a rehearsal calls every method of the engine while
 * `observeStatements` records the SQL it sends, and the names are read from that text. The
 * workflows are recorded too, and any name they send that the rehearsal did not plant fails the
 * test, so a query added later is covered without anyone updating a list.
 */
import { CreateSecretCommand, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import mysql from 'mysql2/promise';
import type { Client as PgClient } from 'pg';
import type { Connection, Workflow } from '../../cli/context';
import { engineFor } from '../../src/engines';
import { observeStatements } from '../../src/engines/base';
import type { Credentials, DatabaseEngine } from '../../src/engines/types';
import { DB_TAG } from '../../src/lifecycle/users';
import { memoryLogger } from '../../src/log';
import { USER_TAG } from '../../src/rotation/boundary';
import { credentialsOf, resolveMaster } from '../../src/rotation/master';
import { createSecret, setSecret } from '../../src/rotation/steps';
import { STRATEGY_TAG, type StrategyName } from '../../src/rotation/types';
import { connectionOf, current, run } from '../e2e/support';
import { dbaUser, templateHandler, templateName } from '../support/aws-templates';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { mysqlConnection, pgClient } from '../support/sql';

type Family = 'postgres' | 'mysql';

let tc: TestCloud;
let conn: Connection;
/** Every statement the engines sent while recording is on: [engine label, SQL text]. */
let sent: [string, string][] | undefined;

beforeAll(async () => {
  // Inline: the handlers run on this thread, so the observer sees the workflows' statements too.
  tc = await startTestCloud(undefined, 'inline');
  conn = connectionOf(tc);
  observeStatements((engine, sql) => sent?.push([engine, sql]));
}, 180_000);

afterAll(async () => {
  observeStatements(undefined);
  await tc?.stop();
});

/** Runs `fn` and returns the SQL texts the engine of `family` sent meanwhile. */
async function recording(family: Family, fn: () => Promise<void>): Promise<string[]> {
  sent = [];
  try {
    await fn();
    return sent.filter(([engine]) => engine === family).map(([, sql]) => sql);
  } finally {
    sent = undefined;
  }
}

// ---- reading names out of SQL --------------------------------------------------------------

/** The SQL text with literals, quoted identifiers and bind markers blanked out. */
function bare(sql: string): string {
  return sql
    .replace(/'(?:[^'\\]|\\.|'')*'/g, ' ')
    .replace(/"(?:[^"]|"")*"/g, ' ')
    .replace(/`(?:[^`]|``)*`/g, ' ')
    .replace(/\$\d+/g, ' ');
}

/** Function names (an identifier before `(`, qualifier dropped), lower case, with an arity seen. */
function functionCalls(sqls: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const sql of sqls) {
    const text = bare(sql);
    for (const m of text.matchAll(/(?<![\w$])([A-Za-z_][A-Za-z0-9_]*)\s*\(/g)) {
      const name = (m[1] as string).toLowerCase();
      if (out.has(name)) continue;
      // Arity: top-level commas up to the matching parenthesis.
      let depth = 0;
      let commas = 0;
      let empty = true;
      for (let i = (m.index ?? 0) + m[0].length; i < text.length; i++) {
        const ch = text[i] as string;
        if (ch === '(') depth++;
        else if (ch === ')') {
          if (depth-- === 0) break;
        } else if (ch === ',' && depth === 0) commas++;
        if (!/\s/.test(ch)) empty = false;
      }
      out.set(name, empty ? 0 : commas + 1);
    }
  }
  return out;
}

/** PostgreSQL operator symbols, with the keywords that stand for one (LIKE, IN, CASE x WHEN). */
function operatorSymbols(sqls: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const sql of sqls) {
    const text = bare(sql);
    for (const m of text.matchAll(/OPERATOR\s*\(\s*(?:\w+\s*\.\s*)?([^\s)]+)\s*\)/gi))
      out.add(m[1] as string);
    const plain = text.replace(/OPERATOR\s*\([^)]*\)/gi, ' ');
    for (const m of plain.matchAll(/[+\-*/<>=~!@#%^&|?]+/g)) out.add(m[0]);
    if (/\bNOT\s+LIKE\b/i.test(plain)) out.add('!~~');
    if (/(?<!NOT\s+)\bLIKE\b/i.test(plain)) out.add('~~');
    if (/\bIN\s*\(|\bWHEN\b/i.test(plain)) out.add('=');
  }
  return out;
}

/** Words that take parentheses in PostgreSQL's grammar without naming a function. */
const PG_SYNTAX = new Set([
  'any',
  'all',
  'coalesce',
  'and',
  'or',
  'not',
  'where',
  'select',
  'on',
  'from',
  'exists',
  'values',
  'as',
  'operator',
  'lateral',
  'in',
  'when',
  'then',
  'else',
  'array',
  'with',
  'join',
  'union',
]);

/**
 * What a PostgreSQL query calls without naming pg_catalog: functions not written
 * `pg_catalog.f(`, operators not written `OPERATOR(pg_catalog.op)` and the keywords that hide
 * one (LIKE, IN, BETWEEN, `CASE x WHEN`). DDL is left out: its `-1` is a literal, not a call.
 */
function unqualified(sqls: readonly string[]): string[] {
  const out = new Set<string>();
  for (const sql of sqls) {
    if (!/^\s*(SELECT|WITH)\b/i.test(sql)) continue;
    // Qualified operators out first: what remains of OPERATOR( is one that is not.
    const plain = bare(sql)
      .replace(/OPERATOR\s*\(\s*pg_catalog\s*\.\s*[^\s)]+\s*\)/gi, ' ')
      .replace(/::/g, ' ');
    for (const m of plain.matchAll(/(?:\b(\w+)\s*\.\s*)?(?<![\w$])([A-Za-z_]\w*)\s*\(/g)) {
      const before = plain.slice(0, m.index ?? 0);
      if (m[1] === 'pg_catalog' || /\bAS\s*$/i.test(before)) continue;
      if (!m[1] && PG_SYNTAX.has((m[2] as string).toLowerCase())) continue;
      out.add(`${m[1] ? `${m[1]}.` : ''}${m[2]}(`);
    }
    for (const m of plain.matchAll(/[+\-*/<>=~!@#%^&|?]+/g)) out.add(m[0]);
    for (const m of plain.matchAll(/\b(LIKE|IN\s*\(|BETWEEN|CASE\s+(?!WHEN)\S+)/gi)) out.add(m[0]);
  }
  return [...out].sort();
}

/** Tables a MySQL statement reads or writes, unqualified (the name a default database would resolve). */
function mysqlTables(sqls: readonly string[]): {
  read: Map<string, string[]>;
  written: Map<string, string[]>;
} {
  const read = new Map<string, string[]>();
  const written = new Map<string, string[]>();
  for (const sql of sqls) {
    const re =
      /\b(FROM|JOIN|INTO|(?<!KEY\s+)UPDATE|TABLE(?:\s+IF\s+NOT\s+EXISTS)?)\s+((?:`[^`]+`|\w+)(?:\s*\.\s*(?:`[^`]+`|\w+))?)/gi;
    for (const m of sql.matchAll(re)) {
      const verb = (m[1] as string).toUpperCase();
      const name = (m[2] as string).split('.').pop()?.replace(/`/g, '').trim() ?? '';
      // Columns a stand-in must have for the statement to reach its execution: every word in it.
      const words = [...new Set([...bare(sql).matchAll(/\b[A-Za-z_]\w*\b/g)].map((w) => w[0].toLowerCase()))];
      const into = verb === 'INTO' || verb === 'UPDATE' ? written : read;
      if (verb.startsWith('TABLE')) continue;
      into.set(name, [...new Set([...(into.get(name) ?? []), ...words])]);
    }
  }
  return { read, written };
}

// ---- the shadows -----------------------------------------------------------------------------

const TRAP = 'credflow_trap';

/** PostgreSQL types an argument of a call may have: each shadow is planted with all of its group. */
const PG_TYPE_GROUPS = [
  ['text', 'name', 'character varying'],
  ['oid', 'integer', 'bigint', 'smallint'],
];
/** Operand types of the operators' shadows: the catalog columns' types and the literals'. */
const PG_OPERAND_TYPES = [
  'oid',
  'integer',
  'bigint',
  'smallint',
  'name',
  'text',
  'character varying',
  '"char"',
  'boolean',
];

interface PgOverload {
  proname: string;
  proretset: boolean;
  result: string;
  args: string[];
  outs: string[];
}

function product<T>(lists: T[][]): T[][] {
  return lists.reduce<T[][]>((acc, list) => acc.flatMap((a) => list.map((x) => [...a, x])), [[]]);
}

/**
 * Shadow signatures of one pg_catalog overload: each argument replaced by every type of its group
 * (an exact type beats pg_catalog's, which needs a cast), polymorphic ones by concrete arrays.
 */
function pgVariants(o: PgOverload): { args: string[]; result: string }[] {
  const poly = o.args.some((a) => /^any/.test(a)) || /\bany/.test(o.result);
  const elements = poly ? ['text', 'name', 'oid'] : [undefined];
  const out: { args: string[]; result: string }[] = [{ args: o.args, result: o.result }];
  for (const el of elements) {
    const concrete = (t: string) =>
      el === undefined ? t : t.replace(/\banyarray\b/g, `${el}[]`).replace(/\banyelement\b/g, el);
    const choices = o.args.map((a) => {
      const t = concrete(a);
      return PG_TYPE_GROUPS.find((g) => g.includes(t)) ?? [t];
    });
    for (const args of product(choices)) out.push({ args, result: concrete(o.result) });
  }
  return out;
}

/** The statements of one plpgsql DO block that tries each creation and skips what PostgreSQL refuses. */
function tryEach(statements: string[][]): string {
  const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const body = statements
    .map((alternatives) =>
      alternatives.reduceRight(
        (fallback, stmt) => `BEGIN EXECUTE ${lit(stmt)}; EXCEPTION WHEN others THEN ${fallback} END;`,
        'NULL;',
      ),
    )
    .join('\n');
  return `DO $plant$ BEGIN\n${body}\nEND $plant$`;
}

/** What every PostgreSQL shadow does first: count in a sequence (never rolled back), and say who ran it. */
function pgTrapStatements(what: string): string {
  return `SELECT pg_catalog.nextval('public.${TRAP}_seq'::pg_catalog.regclass);
INSERT INTO public.${TRAP} (who, what) VALUES (CURRENT_USER, '${what.replace(/'/g, "''")}');`;
}

async function pgSession<T>(creds: Credentials, fn: (c: PgClient) => Promise<T>): Promise<T> {
  // The planting session resolves nothing of its own shadows.
  const c = pgClient(creds, '-c search_path=pg_catalog');
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Plants the PostgreSQL shadows as `tenant` in its database; returns how many objects it made. */
async function plantPostgres(
  tenant: Credentials,
  schemas: string[],
  names: string[],
  operators: string[],
): Promise<{ functions: number; operators: number; names: string[] }> {
  return pgSession(tenant, async (c) => {
    await c.query(`CREATE TABLE public.${TRAP} (who text, what text)`);
    await c.query(`CREATE SEQUENCE public.${TRAP}_seq`);
    // Writable by everyone: whoever runs a shadow leaves its mark.
    await c.query(`GRANT INSERT ON public.${TRAP} TO PUBLIC`);
    await c.query(`GRANT USAGE, UPDATE ON SEQUENCE public.${TRAP}_seq TO PUBLIC`);
    for (const s of schemas.filter((x) => x !== 'public')) {
      await c.query(`CREATE SCHEMA ${c.escapeIdentifier(s)}`);
      await c.query(`GRANT USAGE ON SCHEMA ${c.escapeIdentifier(s)} TO PUBLIC`);
    }
    const { rows } = await c.query<PgOverload>(
      `SELECT p.proname, p.proretset, pg_catalog.pg_get_function_result(p.oid) AS result,
              ARRAY(SELECT pg_catalog.format_type(t, NULL) FROM pg_catalog.unnest(p.proargtypes::pg_catalog.oid[])
                    WITH ORDINALITY AS a(t, i) ORDER BY i) AS args,
              ARRAY(SELECT 'OUT ' || pg_catalog.quote_ident(COALESCE(n, 'c' || i)) || ' ' ||
                           pg_catalog.format_type(t, NULL)
                    FROM ROWS FROM (pg_catalog.unnest(p.proallargtypes), pg_catalog.unnest(p.proargmodes), pg_catalog.unnest(p.proargnames))
                         WITH ORDINALITY AS u(t, m, n, i)
                    WHERE m OPERATOR(pg_catalog.=) 'o' ORDER BY i) AS outs
       FROM pg_catalog.pg_proc p
       WHERE p.pronamespace OPERATOR(pg_catalog.=) 'pg_catalog'::pg_catalog.regnamespace
         AND p.proname OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.name[])
         AND p.prokind OPERATOR(pg_catalog.=) 'f' AND p.provariadic OPERATOR(pg_catalog.=) 0`,
      [names],
    );
    // The operand pairs: pg_catalog's own for each symbol, and every cross pair of the types the
    // queries compare (as `<>(oid, integer)` or `!~~(name, name)`, which pg_catalog lacks and so
    // would lose to nothing). Each with the type pg_catalog's operator answers for it: the shadow
    // answers the same, so the caller goes on.
    const { rows: catalogPairs } = await c.query<{ op: string; l: string; r: string }>(
      `SELECT oprname AS op, pg_catalog.format_type(oprleft, NULL) AS l, pg_catalog.format_type(oprright, NULL) AS r
       FROM pg_catalog.pg_operator
       WHERE oprnamespace OPERATOR(pg_catalog.=) 'pg_catalog'::pg_catalog.regnamespace
         AND oprname OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.name[])
         AND oprleft OPERATOR(pg_catalog.<>) 0::pg_catalog.oid AND oprright OPERATOR(pg_catalog.<>) 0::pg_catalog.oid`,
      [operators],
    );
    const operatorResults = new Map<string, string>();
    for (const op of operators) {
      const pairs = [
        ...catalogPairs.filter((p) => p.op === op).map((p) => [p.l, p.r]),
        ...product([PG_OPERAND_TYPES, PG_OPERAND_TYPES]),
      ];
      for (const [l, r] of pairs) {
        try {
          const { rows: typed } = await c.query<{ t: string }>(
            `SELECT pg_catalog.format_type(pg_catalog.pg_typeof(NULL::${l} OPERATOR(pg_catalog.${op}) NULL::${r})::pg_catalog.oid, NULL) AS t`,
          );
          if (typed[0]) operatorResults.set(`${op}\t${l}\t${r}`, typed[0].t);
        } catch {
          // No such operator for these operands.
        }
      }
    }
    const creations: string[][] = [];
    for (const s of schemas) {
      const schema = c.escapeIdentifier(s);
      const seen = new Set<string>();
      for (const o of rows) {
        for (const v of pgVariants(o)) {
          const key = `${o.proname}(${v.args.join(',')})`;
          if (seen.has(key)) continue;
          seen.add(key);
          const params = [...v.args, ...o.outs].join(', ');
          const call = `pg_catalog.${o.proname}(${o.args.map((t, i) => (/^any/.test(t) ? `$${i + 1}` : `$${i + 1}::${t}`)).join(', ')})`;
          const trap = pgTrapStatements(`${s}.${key}`);
          const create = (body: string) =>
            `CREATE FUNCTION ${schema}.${c.escapeIdentifier(o.proname)}(${params}) RETURNS ${v.result} LANGUAGE sql SECURITY INVOKER AS $shadow$${trap}\n${body}$shadow$`;
          // Answer as the real function would, so the caller goes on (and commits); else NULL.
          const alternatives = [create(o.proretset ? `SELECT * FROM ${call}` : `SELECT ${call}`)];
          if (!o.proretset) alternatives.push(create(`SELECT NULL::${v.result}`));
          creations.push(alternatives);
        }
      }
      let k = 0;
      for (const [key, result] of operatorResults) {
        const [op, l, r] = key.split('\t') as [string, string, string];
        const fn = `${schema}.credflow_shadow_op_${++k}`;
        const trap = pgTrapStatements(`${s}.${op}(${l},${r})`);
        creations.push([
          `CREATE FUNCTION ${fn}(${l}, ${r}) RETURNS ${result} LANGUAGE sql SECURITY INVOKER AS $shadow$${trap}\nSELECT $1 OPERATOR(pg_catalog.${op}) $2$shadow$`,
        ]);
        creations.push([
          `CREATE OPERATOR ${schema}.${op} (LEFTARG = ${l}, RIGHTARG = ${r}, FUNCTION = ${fn})`,
        ]);
      }
    }
    for (let i = 0; i < creations.length; i += 200) await c.query(tryEach(creations.slice(i, i + 200)));
    const counted = await c.query<{ functions: string; operators: string; names: string[] }>(
      `SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
               WHERE n.nspname OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.name[]) AND p.proname OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.name[])) AS functions,
              (SELECT pg_catalog.count(*) FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) o.oprnamespace
               WHERE n.nspname OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.name[])) AS operators,
              ARRAY(SELECT DISTINCT p.proname::pg_catalog.text FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
               WHERE n.nspname OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.name[]) AND p.proname OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.name[])
               UNION SELECT DISTINCT o.oprname::pg_catalog.text FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) o.oprnamespace
               WHERE n.nspname OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.name[])) AS names`,
      [schemas, names],
    );
    const row = counted.rows[0];
    return { functions: Number(row?.functions), operators: Number(row?.operators), names: row?.names ?? [] };
  });
}

async function pgTrap(tenant: Credentials): Promise<unknown[]> {
  return pgSession(tenant, async (c) => {
    const rows = (await c.query(`SELECT who, what FROM public.${TRAP}`)).rows;
    const seq = (await c.query(`SELECT is_called FROM public.${TRAP}_seq`)).rows[0] as { is_called: boolean };
    return seq.is_called && rows.length === 0 ? [{ who: '(rolled back)', what: 'a shadow ran' }] : rows;
  });
}

async function mySession<T>(creds: Credentials, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysqlConnection(creds);
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * Plants the MySQL-family shadows as `tenant` in its database: a stored function and a
 * procedure for every function name, a trap view for every table read and a table with
 * triggers for every table written (what a default database would resolve), all SQL SECURITY
 * INVOKER, each writing to a MyISAM trap (no transaction rolls it back).
 */
async function plantMysql(
  tenant: Credentials,
  sqls: string[],
): Promise<{ objects: number; names: string[] }> {
  const id = mysql.escapeId;
  return mySession(tenant, async (c) => {
    const db = tenant.dbname as string;
    const at = (what: string) =>
      `INSERT INTO ${id(db)}.${TRAP} VALUES (CURRENT_USER(), ${mysql.escape(what)})`;
    await c.query(`CREATE TABLE ${TRAP} (who VARCHAR(300), what VARCHAR(300)) ENGINE=MyISAM`);
    await c.query(
      `CREATE FUNCTION credflow_trap_hit(what VARCHAR(300)) RETURNS TEXT SQL SECURITY INVOKER MODIFIES SQL DATA
       BEGIN INSERT INTO ${id(db)}.${TRAP} VALUES (CURRENT_USER(), what); RETURN NULL; END`,
    );
    const planted = new Set<string>();
    let objects = 0;
    const tryCreate = async (name: string, sql: string) => {
      try {
        await c.query(sql);
        objects++;
        planted.add(name);
      } catch {
        // A name the server will not take for a routine (a reserved word, VALUES, VARCHAR): nothing to shadow.
      }
    };
    for (const [name, arity] of functionCalls(sqls)) {
      const params = Array.from({ length: arity }, (_, i) => `a${i} TEXT`).join(', ');
      await tryCreate(
        name,
        `CREATE FUNCTION ${id(name)}(${params}) RETURNS TEXT SQL SECURITY INVOKER MODIFIES SQL DATA BEGIN ${at(`function ${name}`)}; RETURN NULL; END`,
      );
      await tryCreate(
        name,
        `CREATE PROCEDURE ${id(name)}(${params}) SQL SECURITY INVOKER MODIFIES SQL DATA BEGIN ${at(`procedure ${name}`)}; END`,
      );
    }
    const { read, written } = mysqlTables(sqls);
    for (const [table, words] of written) {
      const cols = words.slice(0, 200).map((w) => `${id(w)} TEXT NULL`);
      await tryCreate(table, `CREATE TABLE ${id(table)} (${cols.join(', ')})`);
      for (const event of ['INSERT', 'UPDATE', 'DELETE']) {
        await tryCreate(
          table,
          `CREATE TRIGGER ${id(`credflow_shadow_${table}_${event}`)} BEFORE ${event} ON ${id(table)} FOR EACH ROW ${at(`trigger ${event} ${table}`)}`,
        );
      }
    }
    for (const [table, words] of read) {
      if (written.has(table)) continue;
      const cols = words
        .slice(0, 200)
        .map((w) => `credflow_trap_hit(${mysql.escape(`view ${table}`)}) AS ${id(w)}`);
      await tryCreate(table, `CREATE SQL SECURITY INVOKER VIEW ${id(table)} AS SELECT ${cols.join(', ')}`);
    }
    return { objects, names: [...planted].sort() };
  });
}

async function myTrap(tenant: Credentials): Promise<unknown[]> {
  return mySession(tenant, async (c) => (await c.query(`SELECT who, what FROM ${TRAP}`))[0] as unknown[]);
}

interface Trapped {
  who: string;
  what: string;
}

/** The trap's rows as "who ran what (n times)", for a readable failure. */
function tally(rows: readonly Trapped[]): string[] {
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(`${r.who} ran ${r.what}`, (counts.get(`${r.who} ran ${r.what}`) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k} (${n} times)`).sort();
}

// ---- the workflows ------------------------------------------------------------------------------

/**
 * Every member of DatabaseEngine, and whether it sends SQL. A Record over the interface's keys:
 * a method added to the interface does not compile until it is listed here, and one listed as
 * sending SQL that the rehearsal does not call fails the test.
 */
const MEMBERS: Record<keyof DatabaseEngine, 'sends SQL' | 'no SQL'> = {
  family: 'no SQL',
  maxUsernameLength: 'no SQL',
  excludeCharacters: 'no SQL',
  validateUsername: 'no SQL',
  testLogin: 'sends SQL',
  changeOwnPassword: 'sends SQL',
  setPassword: 'sends SQL',
  createUser: 'sends SQL',
  cloneUser: 'sends SQL',
  bindingsOf: 'sends SQL',
  userExists: 'sends SQL',
  listUsers: 'sends SQL',
  dropUser: 'sends SQL',
  listGrants: 'sends SQL',
  inspectUsers: 'sends SQL',
  accountsElsewhere: 'sends SQL',
  adoptionFacts: 'sends SQL',
  bindExisting: 'sends SQL',
  unbindExisting: 'sends SQL',
  describeSession: 'sends SQL',
};

/** The members of `engine` that send SQL (an engine may lack an optional one: PostgreSQL has no accountsElsewhere). */
function sqlMembers(engine: DatabaseEngine): string[] {
  return Object.entries(MEMBERS)
    .filter(([m, kind]) => kind === 'sends SQL' && typeof engine[m as keyof DatabaseEngine] === 'function')
    .map(([m]) => m)
    .sort();
}

/** `engine`, noting in `called` the name of each method called on it. */
function noting(engine: DatabaseEngine, called: Set<string>): DatabaseEngine {
  return new Proxy(engine, {
    get(target, prop) {
      const member = Reflect.get(target, prop, target) as unknown;
      if (typeof member !== 'function') return member;
      return (...args: unknown[]) => {
        called.add(String(prop));
        return (member as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/**
 * Every method of the engine, as the master (and the user for its own), on a fresh user: with and
 * without a grant scope (verify-credentials and create-database-user pass one, adoption does
 * not), and adoption's facts, unbinding and binding as adopt-secrets and its undo call them.
 */
async function everyEngineMethod(engine: DatabaseEngine, master: Credentials, stem: string, binding: string) {
  const user = `${stem}_u`;
  const clone = `${user}_clone`;
  const login = (password: string): Credentials => ({ ...master, username: user, password, dbname: 'appdb' });
  const scope = { database: 'appdb' };
  await engine.testLogin(master);
  await engine.describeSession?.(master);
  await engine.createUser(master, {
    username: user,
    password: `${stem}-pw-1`,
    database: 'appdb',
    privileges: ['ALL'],
    binding,
  });
  await engine.cloneUser(master, user, clone, `${stem}-pw-2`, binding);
  // Again on the existing clone (re-sync), then the alternating strategy's second turn.
  await engine.cloneUser(master, user, clone, `${stem}-pw-3`, binding);
  await engine.cloneUser(master, clone, user, `${stem}-pw-4`, binding);
  await engine.setPassword(master, user, `${stem}-pw-5`, binding);
  await engine.changeOwnPassword(login(`${stem}-pw-5`), `${stem}-pw-6`);
  await engine.testLogin(login(`${stem}-pw-6`));
  await engine.describeSession?.(login(`${stem}-pw-6`));
  await engine.inspectUsers(master, [user, clone, 'nobody_here']);
  await engine.inspectUsers(master, [user, clone, 'nobody_here'], scope);
  await engine.listGrants(master, user);
  await engine.listGrants(master, user, scope);
  await engine.accountsElsewhere?.(master, [user, clone, 'nobody_here']);
  await engine.bindingsOf(master, [user, clone, 'nobody_here']);
  await engine.userExists(master, user);
  await engine.listUsers(master);
  // Adoption: the facts of bound, unbound and missing users; the binding taken off (undo) and
  // put back (apply).
  await engine.adoptionFacts?.(master, [user, clone, 'nobody_here']);
  await engine.unbindExisting?.(master, [user, clone], binding);
  await engine.adoptionFacts?.(master, [user, clone]);
  await engine.bindExisting?.(master, [user, clone], binding);
  await engine.dropUser(master, clone);
  await engine.dropUser(master, user);
}

const KNOWN: Record<Family, { functions: string[]; operators: string[] }> = {
  postgres: {
    functions: [
      'quote_ident',
      'current_database',
      'has_database_privilege',
      'aclexplode',
      'pg_has_role',
      'shobj_description',
      'current_setting',
      'pg_backend_pid',
    ],
    operators: ['<>', '=', '||', '~~', '!~~'],
  },
  mysql: { functions: ['version', 'current_user', 'password'], operators: [] },
};

describe.each<[Family, string]>([
  ['postgres', 'shadow-pg'],
  ['mysql', 'shadow-my'],
])('%s: shadows planted by a user with ALL on its database', (family, id) => {
  it('never run in any workflow credflow has: the trap stays empty', async () => {
    // Prepare: a database, its master, and the most privileged user credflow creates.
    const provisioned = await run(conn, 'provision-database', {
      identifier: id,
      engine: family,
      pollSeconds: 1,
    });
    expect(provisioned.status).toBe('SUCCEEDED');
    const masterArn = String((provisioned.output as Record<string, unknown>)['masterSecretArn']);
    const master = (await resolveMaster(tc.clients, masterArn)).creds;
    const tenantOut = await run(conn, 'create-database-user', {
      dbIdentifier: id,
      username: 'tenant',
      privileges: ['ALL'],
      strategy: 'single-user',
    });
    expect(tenantOut.status).toBe('SUCCEEDED');
    const tenantArn = String((tenantOut.output as Record<string, unknown>)['secretArn']);
    const tenant = credentialsOf(await current(conn, tenantArn));
    const engine = engineFor(family);

    // Secrets adopt-secrets will take over, made before any shadow exists and as AWS's rotation
    // functions leave them: a user the master made as a DBA would, its secret in AWS's JSON shape
    // with rotation on and rotated once by the stand-in for AWS's function (the MultiUser one,
    // as the master, made `a_multi_clone` and left the secret on it). Their master is a secret
    // in AWS's full shape naming the application database, so adoption's master sessions, and
    // the adopted alternating rotations', open where the shadows are.
    const adoptPrefix = `adopt/${id}/`;
    const adoptMaster = await tc.clients.secrets.send(
      new CreateSecretCommand({
        Name: `credflow/${id}/adoption-master-in-appdb`,
        SecretString: JSON.stringify({ engine: family, ...master, dbname: 'appdb' }),
      }),
    );
    const adoptable = { a_single: 'SingleUser', a_multi: 'MultiUser' } as const;
    for (const [username, kind] of Object.entries(adoptable)) {
      const password = `${username}-Init-pw-1`;
      await dbaUser(family, master, username, password);
      const fn = tc.cloud.lambdas.register(
        templateName(family, kind),
        templateHandler(tc.clients.secrets, family, kind),
      );
      tc.cloud.iam.addPermission(fn, 'secretsmanager.amazonaws.com');
      const made = await tc.clients.secrets.send(
        new CreateSecretCommand({
          Name: `${adoptPrefix}${username}`,
          SecretString: JSON.stringify({
            engine: family,
            host: master.host,
            port: master.port,
            username,
            password,
            dbname: 'appdb',
            ...(kind === 'MultiUser' ? { masterarn: adoptMaster.ARN } : {}),
          }),
        }),
      );
      await tc.clients.secrets.send(
        new RotateSecretCommand({
          SecretId: made.ARN,
          RotationLambdaARN: fn,
          RotationRules: { ScheduleExpression: 'rate(10 days)' },
          RotateImmediately: true,
        }),
      );
      await tc.cloud.secrets.awaitIdle();
    }

    // The names: everything the engine sends, read from what it sent in a rehearsal.
    const called = new Set<string>();
    const rehearsal = await recording(family, () =>
      everyEngineMethod(noting(engine, called), master, 'rehearsal', tenantArn),
    );
    expect(sqlMembers(engine).filter((m) => !called.has(m))).toEqual([]);
    const functions = [...functionCalls(rehearsal).keys()];
    const operators = family === 'postgres' ? [...operatorSymbols(rehearsal)] : [];
    expect(functions).toEqual(expect.arrayContaining(KNOWN[family].functions));
    expect(operators).toEqual(expect.arrayContaining(KNOWN[family].operators));

    const victims: Record<string, StrategyName> = {
      v_single: 'single-user',
      v_alt: 'alternating-users',
      v_admin: 'admin-single-user',
    };
    // Plant: every name, wherever a session of the master, the tenant or another user would look.
    const schemas = [
      'public',
      master.username,
      tenant.username,
      ...Object.keys(victims),
      'v_alt_clone',
      'v_home',
      ...Object.keys(adoptable),
      'a_multi_clone',
    ];
    const plantedNames =
      family === 'postgres'
        ? await plantPostgres(tenant, schemas, functions, operators).then((p) => {
            console.info(
              `${family}: ${p.functions} function and ${p.operators} operator shadows for ${p.names.length} names (${p.names.join(' ')}) in ${schemas.length} schemas`,
            );
            return p.names;
          })
        : await plantMysql(tenant, rehearsal).then((p) => {
            console.info(
              `${family}: ${p.objects} shadow objects for ${p.names.length} names (${p.names.join(' ')})`,
            );
            return p.names;
          });
    expect(plantedNames).toEqual(
      expect.arrayContaining([...KNOWN[family].functions, ...KNOWN[family].operators]),
    );

    // Act: every workflow that opens a session on this database, recorded.
    const outcomes: string[] = [];
    const workflow = async (name: Workflow, input: Record<string, unknown>) => {
      const r = await run(conn, name, input);
      outcomes.push(
        `${name} ${JSON.stringify(input)}: ${r.status}${r.error ? ` ${r.error}: ${r.cause}` : ''}`,
      );
      return (r.output ?? {}) as Record<string, unknown>;
    };
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
        outcomes.push(`${what}: SUCCEEDED`);
      } catch (err) {
        outcomes.push(`${what}: threw ${(err as Error).name}: ${(err as Error).message}`);
      }
    };
    const deps = () => ({ secrets: tc.clients.secrets, rds: tc.clients.rds, logger: memoryLogger() });
    const attack = await recording(family, async () => {
      // A rerun of provisioning resumes on the database and tests the master's login again.
      await workflow('provision-database', { identifier: id, engine: family, pollSeconds: 1 });
      const arns: Record<string, string> = {};
      for (const [username, strategy] of Object.entries(victims)) {
        const out = await workflow('create-database-user', {
          dbIdentifier: id,
          username,
          privileges: ['SELECT', 'INSERT'],
          strategy,
        });
        arns[username] = String(out['secretArn']);
      }
      // A master secret in AWS's full shape that names the application database: every master
      // session of this user's rotations opens there.
      await attempt('master secret naming appdb', async () => {
        const full = await tc.clients.secrets.send(
          new CreateSecretCommand({
            Name: `credflow/${id}/master-in-appdb`,
            SecretString: JSON.stringify({ engine: family, ...master, dbname: 'appdb' }),
          }),
        );
        const home = { ...master, dbname: 'appdb' };
        const user = await tc.clients.secrets.send(
          new CreateSecretCommand({
            Name: `credflow/${id}/v_home`,
            SecretString: JSON.stringify({
              engine: family,
              host: master.host,
              port: master.port,
              username: 'v_home',
              password: 'V-home-pw-1',
              dbname: 'appdb',
              masterarn: full.ARN,
            }),
            Tags: [
              { Key: STRATEGY_TAG, Value: 'alternating-users' },
              { Key: USER_TAG, Value: 'v_home' },
            ],
          }),
        );
        await engine.createUser(home, {
          username: 'v_home',
          password: 'V-home-pw-1',
          database: 'appdb',
          privileges: ['SELECT'],
          binding: user.ARN as string,
        });
        arns['v_home'] = user.ARN as string;
      });
      for (const arn of [arns['v_single'], arns['v_alt'], arns['v_alt'], arns['v_admin'], arns['v_home']]) {
        await workflow('rotate-secret', { secretId: arn });
      }
      for (const arn of Object.values(arns)) {
        const report = await workflow('verify-credentials', { secretId: arn });
        if (report['ok'] !== true) outcomes.push(`verify ${arn}: not ok ${JSON.stringify(report['checks'])}`);
      }
      await workflow('check-connectivity', { identifier: id });
      // A rotation cut after setSecret: the repair rolls it forward.
      await attempt('stall v_single after setSecret', async () => {
        const input = { secretId: arns['v_single'] as string, token: `shadow-forward-${id}`.padEnd(36, '0') };
        await createSecret(deps(), input);
        await setSecret(deps(), input);
      });
      await workflow('on-rotation-failure', { secretId: arns['v_single'] });
      // A rotation cut after createSecret: reconcile finds it and its repair rolls it back.
      await attempt('stall v_admin after createSecret', () =>
        createSecret(deps(), {
          secretId: arns['v_admin'] as string,
          token: `shadow-back-${id}`.padEnd(36, '0'),
        }),
      );
      await workflow('reconcile-rotations', { olderThanMinutes: 0 });
      // adopt-secrets over the secrets AWS's functions rotated: a dry run, applying, undo and
      // applying again. The master's sessions read the users' facts and grants, bind and unbind
      // them; the users' own log in; applying verifies.
      const adoptions = async (input: Record<string, unknown>, expected: string) => {
        const out = await workflow('adopt-secrets', {
          prefix: adoptPrefix,
          masterSecretArn: adoptMaster.ARN,
          ...input,
        });
        const rows = (out['reports'] ?? []) as { outcome: string; blockers: unknown[] }[];
        if (rows.length !== 2 || rows.some((r) => r.outcome !== expected || r.blockers.length > 0))
          outcomes.push(`adopt-secrets ${JSON.stringify(input)}: not 2 ${expected}: ${JSON.stringify(rows)}`);
      };
      await adoptions({ dryRun: true }, 'dry-run');
      await adoptions({}, 'adopted');
      await adoptions({ undo: true }, 'undone');
      await adoptions({}, 'adopted');
      // rotate-fleet over every secret of this database credflow manages: the tenant, the three
      // victims and the two adopted (v_home carries no database tag). decommission-database and
      // on-deletion are not run: they call RDS and Secrets Manager only and never log in to a
      // database (src/lifecycle/decommission.ts, deletion.ts and deleteChildSecrets in users.ts).
      const fleet = await workflow('rotate-fleet', {
        tag: { key: DB_TAG, value: id },
        force: true,
        pageSize: 4,
        maxConcurrency: 2,
      });
      if (fleet['succeeded'] !== 6 || fleet['failed'] !== 0)
        outcomes.push(`rotate-fleet: not 6 rotated and none failed: ${JSON.stringify(fleet)}`);
      // Every engine method once more, the master's sessions opening in the application database.
      await attempt('every engine method', () =>
        everyEngineMethod(engine, { ...master, dbname: 'appdb' }, 'attack', tenantArn),
      );
      await workflow('rotate-master-password', { identifier: id, pollSeconds: 1 });
    });

    // Assess: no shadow ran, every workflow succeeded, and every name they sent was shadowed.
    console.info(`${family}: ran ${outcomes.length} workflows and engine paths:\n${outcomes.join('\n')}`);
    // The fleet rotated the tenant too: its current password reads the trap.
    const tenantNow = credentialsOf(await current(conn, tenantArn));
    const trap = (family === 'postgres' ? await pgTrap(tenantNow) : await myTrap(tenantNow)) as Trapped[];
    expect(tally(trap)).toEqual([]);
    expect(outcomes.filter((o) => !o.endsWith(': SUCCEEDED'))).toEqual([]);
    const sentNames = [
      ...functionCalls(attack).keys(),
      ...(family === 'postgres' ? operatorSymbols(attack) : []),
    ];
    const derived = new Set<string>([...functions, ...operators]);
    expect(sentNames.filter((n) => !derived.has(n))).toEqual([]);
    // Defence in depth, so the path alone is never all that stands: every name is qualified.
    if (family === 'postgres') expect(unqualified([...rehearsal, ...attack])).toEqual([]);
  }, 600_000);
});

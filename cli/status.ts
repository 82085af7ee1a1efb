import path from 'node:path';
import type { SecretListEntry } from '@aws-sdk/client-secrets-manager';
import { engineFor } from '../src/engines';
import type { DatabaseEngine } from '../src/engines/types';
import { CredflowError } from '../src/errors';
import { type AttentionView, type Observation, readAttention } from '../src/lifecycle/attention';
import { credentialsOf, resolveMaster, useMaster } from '../src/rotation/master';
import { logsIn } from '../src/rotation/steps';
import { readVersion } from '../src/rotation/versions';
import { parseDbSecret } from '../src/secret';
import { type Connection, connect, type GlobalOptions, runningLocalCloud } from './context';
import { EXIT } from './errors';
import { cloudStatus, cloudSummary } from './local';
import { out, printJson, table } from './output';

export interface StatusOptions {
  /** Only the local cloud: is it running, what is in it (the old `status`). */
  cloud?: boolean;
  /**
   * Read each credflow secret's AWSCURRENT and log in with it (GetSecretValue; the database must
   * be reachable), and where the secret names its master, read the user's binding through it.
   */
  checkLogins?: boolean;
  /** An AWSPENDING older than this is stuck (the reconciler's threshold, 30 by default). */
  stuckAfterMinutes?: number;
}

/**
 * `credflow status`: what needs attention first, worst first, for the local cloud when one runs
 * in the state dir (after a line saying so) or the deployed stack the AWS options name.
 */
export async function status(g: GlobalOptions, o: StatusOptions = {}): Promise<number> {
  const stateDir = path.resolve(g.stateDir);
  const localUp = runningLocalCloud(stateDir);
  const onAws =
    !g.local && !localUp && (g.endpointUrl ?? process.env['AWS_ENDPOINT_URL'] ?? g.profile ?? g.region);
  if (o.cloud || (!localUp && !onAws)) return cloudStatus(g);

  const conn: Connection = connect(localUp && !g.endpointUrl ? { ...g, local: true } : g);
  const started = Date.now();
  const view = await readAttention(conn.clients.secrets, {
    ...(o.stuckAfterMinutes !== undefined ? { stuckAfterMinutes: o.stuckAfterMinutes } : {}),
    ...(o.checkLogins ? { observe: checkLogin(conn) } : {}),
  });
  const ms = Date.now() - started;
  if (g.json) {
    printJson({
      ...(localUp ? await cloudSummary(g, localUp, stateDir) : {}),
      mode: conn.mode,
      stage: conn.stage,
      ...view,
      ms,
    });
    return EXIT.ok;
  }
  if (localUp)
    out(`local cloud running (pid ${localUp.pid}) at ${localUp.endpoint}; \`status --cloud\` for more`);
  printView(view);
  return EXIT.ok;
}

function printView(view: AttentionView): void {
  if (view.rows.length === 0) out(`nothing needs attention (${view.scanned} secrets)`);
  else
    process.stdout.write(
      `${table(
        ['kind', 'secret', 'database', 'since', 'what', 'look at'],
        view.rows.map((r) => [
          r.kind.toUpperCase(),
          r.secret,
          r.database,
          r.since,
          r.also.length ? `${r.detail} (also ${r.also.join(', ')})` : r.detail,
          r.look,
        ]),
      )}\n`,
    );
  const h = view.healthy;
  out(
    `healthy: ${h.ok} ok, ${h.rotating} rotating, ${h.rdsMasters} RDS master secret(s); ${h.other} other secret(s) not credflow's, ${h.deleted} scheduled for deletion`,
  );
  for (const n of view.notes) out(`note: ${n}`);
}

/**
 * The live login check: AWSCURRENT's value (GetSecretValue) and one login with it. A value that
 * does not parse or a database that does not answer is not "broken": the check says nothing.
 */
function checkLogin(conn: Connection): (s: SecretListEntry) => Promise<Observation> {
  return async (s) => {
    if (!s.ARN) return {};
    try {
      const raw = await readVersion(conn.clients.secrets, s.ARN, { VersionStage: 'AWSCURRENT' });
      if (raw === undefined) return {};
      const secret = parseDbSecret(raw, `AWSCURRENT of ${s.Name ?? s.ARN}`);
      const engine = engineFor(secret.engine);
      const seen: Observation = { logsIn: await logsIn(engine, credentialsOf(secret)) };
      const bound = secret.masterarn
        ? await boundTo(conn, engine, secret.masterarn, secret.username)
        : undefined;
      if (bound !== undefined) seen.bound = bound === s.ARN;
      return seen;
    } catch (err) {
      if (err instanceof CredflowError) return {};
      throw err;
    }
  };
}

/**
 * The secret the database binds `username` to, as the master reads it; undefined when the
 * master cannot be used (the check then says nothing) or the user has no binding ('').
 */
async function boundTo(
  conn: Connection,
  engine: DatabaseEngine,
  masterArn: string,
  username: string,
): Promise<string | undefined> {
  try {
    const master = await resolveMaster(conn.clients, masterArn);
    const found = await useMaster(master, (m) => engine.bindingsOf(m.creds, [username]));
    const b = found[username];
    return b?.exists ? (b.binding ?? '') : undefined;
  } catch (err) {
    if (err instanceof CredflowError) return undefined;
    throw err;
  }
}

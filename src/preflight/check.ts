/**
 * check-connectivity: from where the database functions run (inside the VPC on AWS), try every
 * hop a rotation depends on and answer with one verdict per hop. A hop that fails is reported,
 * never thrown, so the workflow always has the whole picture; only bad input throws.
 */
import { z } from 'zod';
import type { Deps } from '../deps';
import { engineFor as defaultEngineFor } from '../engines';
import type { DatabaseEngine, EngineFamily } from '../engines/types';
import { identifier } from '../lifecycle/database';
import { ENGINES } from '../secret';
import { parser } from '../validate';
import { rdsHop, secretsManagerHop } from './aws-hops';
import { dnsHop, loginHop, tcpHop, tlsHop } from './network-hops';
import { withDeadline } from './probes';
import {
  HOP_LIMITS,
  type Hop,
  type HopLimits,
  type HopName,
  type Outcome,
  type PreflightReport,
  skipped,
  type Target,
} from './types';

export { HOP_LIMITS, HOPS, type Hop, type HopLimits, type PreflightReport } from './types';

const checkInput = z.object({
  identifier,
  kind: z.enum(['instance', 'cluster']).optional(),
  /** Check this endpoint instead of the one RDS describes (an RDS Proxy, a custom DNS name). */
  host: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,253}$/, 'must be a host name or an IP address')
    .optional(),
  port: z.number().int().min(1).max(65535).optional(),
  engine: z.enum(ENGINES).optional(),
  /** The master secret, when RDS cannot be asked (the CLI passes what it described). */
  masterSecretArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:\S+$/, 'must be a secret ARN')
    .optional(),
});
export type CheckConnectivityInput = z.infer<typeof checkInput>;

/** Parses checkConnectivity's input (a ValidationError naming each bad field). */
export const parseCheckConnectivityInput = parser(checkInput, 'invalid check-connectivity input');

async function timed(hop: HopName, run: () => Promise<Outcome>): Promise<Hop> {
  const started = Date.now();
  let outcome: Outcome;
  try {
    outcome = await run();
  } catch (err) {
    // A hop reports its own failures; anything else is still a verdict, not a crash.
    outcome = { status: 'failed', detail: `${(err as Error).name}: ${(err as Error).message}` };
  }
  return { hop, ms: Date.now() - started, ...outcome };
}

function familyOf(deps: Deps, t: Target): { engine: DatabaseEngine; family: EngineFamily } | undefined {
  if (!t.engine) return undefined;
  const engine = (deps.engineFor ?? defaultEngineFor)(t.engine);
  return { engine, family: engine.family };
}

function summarise(identifier: string, hops: Hop[], ok: boolean): string {
  if (ok) {
    const passed = hops.filter((h) => h.status === 'ok').map((h) => h.hop);
    return `${identifier}: reachable; passed ${passed.join(', ')}`;
  }
  return hops
    .filter((h) => h.status === 'failed')
    .map((h) => `${h.hop}: ${h.detail}${h.fix ? ` -> ${h.fix}` : ''}`)
    .join('; ');
}

/**
 * CheckConnectivity: RDS describes the database (status, endpoint, master secret), Secrets
 * Manager returns the master secret, then DNS, TCP and TLS to the endpoint and the master login,
 * each within its own limit (HOP_LIMITS, 32 s at worst). A hop whose prerequisite failed is
 * skipped and says why.
 */
export async function checkConnectivity(
  deps: Deps,
  input: CheckConnectivityInput,
  limits: HopLimits = HOP_LIMITS,
): Promise<PreflightReport> {
  const t: Target = {
    identifier: input.identifier,
    kind: input.kind,
    engine: input.engine,
    host: input.host,
    port: input.port,
    describedPort: undefined,
    status: undefined,
    masterSecretArn: input.masterSecretArn,
    master: undefined,
    address: undefined,
  };
  const hops: Hop[] = [];
  hops.push(await timed('rds', () => rdsHop(deps, t, limits.rds)));
  hops.push(await timed('secrets-manager', () => secretsManagerHop(deps, t, limits.secretsManager)));
  hops.push(await timed('dns', () => dnsHop(t, limits.dns)));
  const tcp = await timed('tcp', () => tcpHop(t, limits.tcp));
  hops.push(tcp);
  const engine = familyOf(deps, t);
  const tls =
    tcp.status === 'ok'
      ? await timed('tls', () => tlsHop(t, engine?.family, limits.tls))
      : { hop: 'tls' as const, ms: 0, ...skipped('no TCP connection') };
  hops.push(tls);
  hops.push(
    tcp.status !== 'ok' || tls.status === 'failed' || !engine
      ? {
          hop: 'master-login',
          ms: 0,
          ...skipped(
            !engine ? 'engine unknown' : `the ${tcp.status !== 'ok' ? 'TCP' : 'TLS'} hop failed first`,
          ),
        }
      : await timed('master-login', () =>
          loginHop(t, (creds) =>
            withDeadline(limits.login, `log in to ${creds.host}:${creds.port}`, async () => {
              const c = { ...creds, dbname: undefined };
              if (engine.engine.describeSession) return engine.engine.describeSession(c);
              await engine.engine.testLogin(c);
              return undefined;
            }),
          ),
        ),
  );
  const ok = hops.every((h) => h.status !== 'failed') && hops.at(-1)?.status === 'ok';
  const report: PreflightReport = {
    identifier: input.identifier,
    ok,
    summary: summarise(input.identifier, hops, ok),
    ...(t.host && t.port ? { endpoint: { host: t.host, port: t.port } } : {}),
    ...(t.engine ? { engine: t.engine } : {}),
    hops,
  };
  deps.logger.info('CheckConnectivity: done', {
    identifier: input.identifier,
    ok,
    failed: hops.filter((h) => h.status === 'failed').map((h) => h.hop),
  });
  return report;
}

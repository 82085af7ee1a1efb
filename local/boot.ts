import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createClients } from '../src/aws/clients';
import { resetLambdaClients } from '../src/aws/lambda-clients';
import { resetDeps } from '../src/deps';
import { resetReconcileDeps } from '../src/lifecycle/reconcile-deps';
import { type Catalog, checkHandler, loadCatalog, loadHandler, resolveEnvironment } from './catalog';
import { LocalCloud } from './cloud';
import { consoleClients, policyLogReader } from './console/data';
import { CONSOLE_PATH } from './console/paths';
import { consoleHandler } from './console/routes';
import { type DeployReport, deployCatalog, resolveContext, stackRoles } from './deploy';
import type { LocalIam } from './iam/local-iam';
import { loadStackIam } from './iam/template';
import type { QuotaSettings } from './quotas';
import { writeFileAtomic } from './store/files';

export interface BootOptions {
  stateDir: string;
  port?: number | undefined;
  /** Where serverless.yml lives (default: this package). */
  catalog?: Catalog | undefined;
  /** The deployment stage names take (default `local`). */
  stage?: string | undefined;
  /** AWS's quotas to enforce (default all; `credflow up --no-quotas`: none). */
  quotas?: QuotaSettings | undefined;
  /**
   * Where the functions run: `threads` (default), each on its own worker thread with its own
   * environment, as Lambda gives each function its own sandbox, leaving this thread to the
   * endpoint and Step Functions; `inline`, on this thread (a test that reaches into a handler's
   * module state, a debugger).
   */
  handlers?: 'threads' | 'inline' | undefined;
  /**
   * Authorize every call against the stack's IAM (default on, as AWS; `credflow up --no-iam`
   * or CREDFLOW_IAM=off: off). Each function then signs with its own role's temporary credentials.
   */
  iam?: boolean | undefined;
}

/** Is IAM on for a boot: the option, else CREDFLOW_IAM (`off` turns it off), else on. */
export function iamOn(option: boolean | undefined): boolean {
  return option ?? (process.env['CREDFLOW_IAM'] ?? 'on').toLowerCase() !== 'off';
}

/**
 * The environment Lambda gives a function for its role: temporary credentials of a session named
 * after the function (`arn:aws:sts::<account>:assumed-role/<role>/<function>`).
 */
export function roleCredentialsEnv(
  iam: LocalIam,
  roleId: string,
  functionName: string,
): Record<string, string> {
  const c = iam.principals.issueRoleCredentials(roleId, functionName);
  return {
    AWS_ACCESS_KEY_ID: c.accessKeyId,
    AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
    AWS_SESSION_TOKEN: c.sessionToken,
  };
}

/** The stage the local cloud deploys serverless.yml as. */
export const LOCAL_STAGE = 'local';

/**
 * The state machine tag (serverless.yml `tags:`) that declares a workflow's steps idempotent:
 * after a crash the local cloud starts its interrupted executions again (the repair workflows).
 */
export const RERUN_INTERRUPTED_TAG = 'credflow:rerun-interrupted';

/**
 * Starts the local cloud and deploys serverless.yml's declarations into it. The handlers run
 * in this process, so the process's default AWS chain is pointed at the local endpoint first:
 * they build their SDK clients from the environment exactly as on Lambda.
 */
export async function bootLocalCloud(opts: BootOptions): Promise<LocalCloud & { deployment: DeployReport }> {
  const cloud = await LocalCloud.start({
    stateDir: opts.stateDir,
    port: opts.port ?? 4566,
    quotas: opts.quotas,
    iam: iamOn(opts.iam),
  });
  const cfg = cloud.clientConfig();
  process.env['AWS_ENDPOINT_URL'] = cfg.endpoint;
  process.env['AWS_REGION'] = cfg.region;
  process.env['AWS_ACCESS_KEY_ID'] = cfg.credentials.accessKeyId;
  process.env['AWS_SECRET_ACCESS_KEY'] = cfg.credentials.secretAccessKey;
  delete process.env['AWS_PROFILE'];
  delete process.env['AWS_SESSION_TOKEN'];
  // The handlers' metrics (EMF lines) join the cloud's own log on stderr (cloud.log when
  // detached) when it logs at info; a quieter cloud (the demo, tests, benchmarks) drops them.
  const level = (process.env['CREDFLOW_LOG_LEVEL'] ?? process.env['LOG_LEVEL'] ?? 'info').toLowerCase();
  process.env['CREDFLOW_METRICS_OUTPUT'] ??= level === 'info' || level === 'debug' ? 'stderr' : 'off';
  // Handlers in this process keep their clients between calls; a new cloud is a new endpoint.
  resetLambdaClients();
  resetDeps();
  resetReconcileDeps();
  if (cloud.rdsCaBundle) trustLocalRds(cloud.rdsCaBundle);
  const stage = opts.stage ?? LOCAL_STAGE;
  const catalog = opts.catalog ?? loadCatalog(undefined, stage);
  const target = { region: cloud.region, accountId: cloud.accountId, stage };
  const ctx = resolveContext(catalog, target);
  // The roles, managed policies and permissions serverless.yml deploys, resolved for this account.
  const stack = loadStackIam(catalog.root, target);
  cloud.iam.useStack(stack);
  const threads = (opts.handlers ?? process.env['CREDFLOW_HANDLERS'] ?? 'threads') !== 'inline';
  for (const fn of catalog.functions) {
    const env = resolveEnvironment(fn.environment, ctx);
    // On Lambda NODE_EXTRA_CA_CERTS names the runtime's bundle with RDS's CAs; here the function
    // trusts what this process trusts, which trustLocalRds (below) extended with the local RDS's
    // CA: a function's thread inherits it (and any CA the host added since) when it starts.
    if (env['NODE_EXTRA_CA_CERTS'] !== undefined && cloud.rdsCaBundle) delete env['NODE_EXTRA_CA_CERTS'];
    // Provider-level settings become process defaults; a value already set wins. Node's own
    // start-up variables (NODE_EXTRA_CA_CERTS names Lambda's CA bundle) stay out: they mean
    // nothing to a running process and would break the Node processes it starts.
    for (const [k, v] of Object.entries(env)) if (!k.startsWith('NODE_')) process.env[k] ??= v;
    // The deployed name, as `serverless deploy` names it; the short key stays an alias.
    const opts = { timeoutSeconds: fn.timeoutSeconds, aliases: [fn.key] };
    if (threads) {
      checkHandler(fn);
      const role = stack.functionRoles.get(fn.key);
      const own =
        cloud.iam.enabled && role ? { ...env, ...roleCredentialsEnv(cloud.iam, role, fn.name) } : env;
      cloud.lambdas.registerModule(fn.name, fn, own, { ...opts, memoryMb: fn.memoryMb });
    } else cloud.lambdas.register(fn.name, loadHandler(fn), env, opts);
  }
  // The web console: credflow's own view, so it is mounted here rather than in the emulator.
  cloud.serveLocal(
    CONSOLE_PATH,
    consoleHandler({
      clients: consoleClients(cfg),
      stage,
      token: cloud.token,
      logger: cloud.logger,
      alerts: () => cloud.sns.messages(),
      policyLog: policyLogReader(cloud.endpoint, cloud.token),
    }),
  );
  try {
    const deployment = await deployCatalog(createClients(cfg), catalog, target, stackRoles(stack));
    // Now that handlers and rules exist: events a crash kept from the rules go out first, then
    // interrupted executions fail (their events start repairs) and the repairs among them rerun.
    cloud.events.redeliverPending();
    cloud.stepFunctions.recoverInterrupted({ rerunTag: RERUN_INTERRUPTED_TAG });
    return Object.assign(cloud, { deployment });
  } catch (err) {
    await cloud.stop();
    throw err;
  }
}

/**
 * The functions run in this process, which Node started before the local RDS's CA existed: its
 * NODE_EXTRA_CA_CERTS is pointed at a bundle holding that CA (plus whatever it named before), which
 * the engines read when they connect (src/engines/common.ts `extraCaCertificates`), as a Lambda
 * function trusts RDS through the bundle its NODE_EXTRA_CA_CERTS names.
 */
function trustLocalRds(bundle: string): void {
  const prior = process.env['NODE_EXTRA_CA_CERTS'];
  if (!prior || prior === bundle) {
    process.env['NODE_EXTRA_CA_CERTS'] = bundle;
    return;
  }
  const ca = readFileSync(bundle, 'utf8');
  let before = '';
  try {
    before = readFileSync(prior, 'utf8');
  } catch {
    // Node ignores a bundle it cannot read; so does this.
  }
  if (before.includes(ca.trim())) return;
  const combined = path.join(path.dirname(bundle), 'trusted.pem');
  writeFileAtomic(combined, `${before.trimEnd()}\n${ca}`);
  process.env['NODE_EXTRA_CA_CERTS'] = combined;
}

/**
 * The lines `credflow up` prints so a shell, the AWS CLI and any SDK program use the local cloud;
 * `CREDFLOW_TOKEN` opens its `/_credflow/*` routes (`credflow alerts` reads it).
 */
export function exportLines(cloud: LocalCloud): string {
  const c = cloud.clientConfig();
  return [
    `export AWS_ENDPOINT_URL=${c.endpoint}`,
    `export AWS_ACCESS_KEY_ID=${c.credentials.accessKeyId}`,
    `export AWS_SECRET_ACCESS_KEY=${c.credentials.secretAccessKey}`,
    `export AWS_REGION=${c.region}`,
    // boto3 and the AWS CLI read AWS_DEFAULT_REGION (and not AWS_REGION, in older releases).
    `export AWS_DEFAULT_REGION=${c.region}`,
    `export CREDFLOW_TOKEN=${cloud.token}`,
    ...caBundleLine(cloud.rdsCaBundle),
  ].join('\n');
}

/**
 * Where the local RDS's CA bundle is, as a shell comment (harmless under eval): clients verify the
 * databases' certificates against it as against RDS's bundle on AWS. Not exported as
 * NODE_EXTRA_CA_CERTS, which would replace a bundle the user's shell already names.
 */
export function caBundleLine(bundle: string | undefined): string[] {
  if (!bundle || !existsSync(bundle)) return [];
  return [`# local RDS CA bundle: ${bundle} (NODE_EXTRA_CA_CERTS, psql sslrootcert=, mysql --ssl-ca=)`];
}

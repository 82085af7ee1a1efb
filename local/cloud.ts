import path from 'node:path';
import { type LocalCredentials, loadOrCreateCredentials, loadOrCreateToken } from './credentials';
import { ensureCertificateAuthority } from './dbserver/tls';
import { eventBridgeJsonService } from './eventbridge/api';
import { eventBridgeAuthz } from './eventbridge/authz';
import { EventBridge } from './eventbridge/service';
import { EventLog } from './events/log';
import { ServiceRegistry } from './http/registry';
import { HttpEndpoint, LOCAL_PREFIX, type LocalHandler } from './http/server';
import { LocalIam } from './iam/local-iam';
import { LambdaRegistry } from './lambda/registry';
import { createLogger, type LocalLogger, redactingLogger } from './log';
import { type QuotaSettings, quotasOn } from './quotas';
import { rdsQueryService } from './rds/api';
import { rdsAuthz } from './rds/authz';
import { rdsCaDir } from './rds/servers';
import { Rds } from './rds/service';
import { secretsManagerJsonService } from './secretsmanager/api';
import { secretsManagerAuthz } from './secretsmanager/authz';
import { SecretsManagerQuotas, withRateQuotas } from './secretsmanager/quotas';
import { SecretsManager } from './secretsmanager/service';
import { snsQueryService } from './sns/api';
import { snsAuthz } from './sns/authz';
import { Sns } from './sns/service';
import { stepFunctionsJsonService } from './stepfunctions/api';
import { stepFunctionsAuthz } from './stepfunctions/authz';
import { StepFunctions } from './stepfunctions/service';
import { Store } from './store/db';
import { ensureStateDir, secureStateDir } from './store/files';
import { Keyring } from './store/keyring';

/** The policy log's data (JSON), behind the local routes' guard. */
export const IAM_DECISIONS_PATH = '/_credflow/iam/decisions';

export interface LocalCloudOptions {
  /**
   * Where state lives (database, root key, credentials, token); created if missing, 0700 with
   * every file 0600 (see `secureStateDir`).
   */
  stateDir: string;
  /** 0 picks a free port. Default 4566. */
  port?: number | undefined;
  region?: string | undefined;
  accountId?: string | undefined;
  /** Default: JSON lines on stderr at CREDFLOW_LOG_LEVEL (info). Tests pass `silentLogger`. */
  logger?: LocalLogger | undefined;
  /** Which of AWS's quotas to enforce; default all, as AWS (`credflow up --no-quotas`: none). */
  quotas?: QuotaSettings | undefined;
  /**
   * Authorize every call against IAM policies (default off here: a bare cloud has only the
   * administrator; `bootLocalCloud`, which deploys serverless.yml's roles, turns it on).
   */
  iam?: boolean | undefined;
}

/** What an SDK v3 client needs to talk to the local cloud. */
export interface LocalClientConfig {
  endpoint: string;
  region: string;
  credentials: LocalCredentials;
}

/**
 * The embedded cloud: one HTTP endpoint on 127.0.0.1 answering AWS wire protocols, backed by one
 * crash-safe store in `stateDir`. Services register on `services`; Secrets Manager is built in.
 */
export class LocalCloud {
  private stopped = false;

  private constructor(
    readonly endpoint: string,
    readonly port: number,
    readonly region: string,
    readonly accountId: string,
    readonly stateDir: string,
    readonly credentials: LocalCredentials,
    readonly store: Store,
    readonly events: EventLog,
    readonly lambdas: LambdaRegistry,
    readonly secrets: SecretsManager,
    /** Register further AWS services (EventBridge, Step Functions, RDS...) here. */
    readonly services: ServiceRegistry,
    readonly logger: LocalLogger,
    private readonly http: HttpEndpoint,
    readonly stepFunctions: StepFunctions,
    readonly eventBridge: EventBridge,
    readonly sns: Sns,
    readonly rds: Rds,
    /** Opens the `/_credflow/*` routes (`Authorization: Bearer <token>`); `credflow up` prints it. */
    readonly token: string,
    /**
     * The quotas in force, shared by the services and read on every call (switch `rates` off
     * to set up data faster than AWS would allow, then on again).
     */
    readonly quotas: QuotaSettings,
    /** Secrets Manager's buckets and its calls per operation (what a rotation costs). */
    readonly secretsQuotas: SecretsManagerQuotas,
    /**
     * The local RDS's CA bundle (PEM), which every database server's certificate verifies against,
     * as RDS's bundle does on AWS; undefined when openssl is missing and the servers offer no TLS.
     */
    readonly rdsCaBundle: string | undefined,
    /** Principals, the stack's policies and the gate every call passes (`iam.enabled`: `--no-iam` turns it off). */
    readonly iam: LocalIam,
  ) {}

  static async start(opts: LocalCloudOptions): Promise<LocalCloud> {
    const stateDir = path.resolve(opts.stateDir);
    const region = opts.region ?? 'us-east-1';
    const accountId = opts.accountId ?? '000000000000';
    const tightened = ensureStateDir(stateDir);
    const store = Store.open(stateDir);
    try {
      const credentials = loadOrCreateCredentials(stateDir);
      const token = loadOrCreateToken(stateDir);
      // Nothing the cloud logs may carry its own secrets, whoever passes them a field.
      const logger = redactingLogger(opts.logger ?? createLogger(), [credentials.secretAccessKey, token]);
      if (tightened > 0) logger.info('state dir modes tightened', { stateDir, changed: tightened });
      const keyring = Keyring.open(store);
      const events = new EventLog(store, { region, accountId }, logger);
      const lambdas = new LambdaRegistry({ region, accountId });
      const iam = new LocalIam({
        stateDir,
        region,
        accountId,
        logger,
        enabled: opts.iam ?? false,
        admin: credentials,
      });
      const quotas = { ...(opts.quotas ?? quotasOn()) };
      const secretsQuotas = new SecretsManagerQuotas(quotas);
      const secrets = new SecretsManager({
        store,
        keyring,
        events,
        lambdas,
        region,
        accountId,
        logger,
        quotas: secretsQuotas,
        iam,
      });
      const services = new ServiceRegistry();
      services.register(withRateQuotas(secretsManagerJsonService(secrets), secretsQuotas));
      const where = { region, accountId };
      const stepFunctions = new StepFunctions({
        store,
        events,
        lambdas,
        services,
        logger,
        quotas,
        iam,
        ...where,
      });
      services.register(stepFunctionsJsonService(stepFunctions));
      iam.readMachineRoles((arn) => stepFunctions.roleOf(arn));
      const eventBridge = new EventBridge({ store, events, lambdas, stepFunctions, logger, iam, ...where });
      services.register(eventBridgeJsonService(eventBridge));
      const sns = new Sns(store, where);
      services.register(snsQueryService(sns));
      const ca = await ensureCertificateAuthority(rdsCaDir(stateDir));
      if (!ca) logger.warn('openssl not found: the local RDS servers offer no TLS');
      const rds = new Rds({ store, secrets, events, stateDir, logger, ca, ...where });
      services.register(rdsQueryService(rds));
      iam.describe('secretsmanager', secretsManagerAuthz(secrets, where));
      iam.describe('states', stepFunctionsAuthz(where));
      iam.describe('events', eventBridgeAuthz(where));
      iam.describe('sns', snsAuthz(where));
      iam.describe('rds', rdsAuthz(rds, where));
      const http = new HttpEndpoint({
        registry: services,
        secretFor: (id) => iam.principals.lookup(id)?.secretAccessKey,
        localSecretFor: (id) => (id === credentials.accessKeyId ? credentials.secretAccessKey : undefined),
        authorize: (ctx, service, operation, input) => iam.authorizeRequest(ctx, service, operation, input),
        logger,
        region,
        token,
      });
      http.localRoutes.set('/_credflow/alerts', () => sns.messages());
      // The policy log: the latest decisions, denied first; `?principal=` filters by caller ARN.
      http.localHandlers.set(IAM_DECISIONS_PATH, async (_req, url) => ({
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          enabled: iam.enabled,
          stats: iam.gate.stats,
          decisions: iam.gate.log({ principal: url.searchParams.get('principal') ?? undefined }),
        }),
      }));
      const port = await http.listen(opts.port ?? 4566);
      eventBridge.startScheduler();
      // Servers of databases that exist come back in the background (Describe shows `starting`).
      rds.restartAll();
      const endpoint = `http://127.0.0.1:${port}`;
      // aws-sdk:rds tasks go through the real SDK client to this endpoint.
      stepFunctions.useEndpoint({ endpoint, region, credentials: { ...credentials } });
      logger.info('local cloud started', { endpoint, stateDir, quotas });
      return new LocalCloud(
        endpoint,
        port,
        region,
        accountId,
        stateDir,
        credentials,
        store,
        events,
        lambdas,
        secrets,
        services,
        logger,
        http,
        stepFunctions,
        eventBridge,
        sns,
        rds,
        token,
        quotas,
        secretsQuotas,
        ca?.bundle,
        iam,
      );
    } catch (err) {
      store.close();
      throw err;
    }
  }

  /**
   * Serves every GET under `prefix` (a path below `/_credflow/`) with `handler`, behind the
   * local routes' guard: loopback Host and Origin, the token or a signature.
   */
  serveLocal(prefix: string, handler: LocalHandler): void {
    if (!prefix.startsWith(LOCAL_PREFIX) || prefix === LOCAL_PREFIX)
      throw new Error(`local handlers live below ${LOCAL_PREFIX}: ${prefix}`);
    this.http.localHandlers.set(prefix, handler);
  }

  /** `{ endpoint, region, credentials }` for `new SecretsManagerClient(cloud.clientConfig())`. */
  clientConfig(): LocalClientConfig {
    return { endpoint: this.endpoint, region: this.region, credentials: { ...this.credentials } };
  }

  /** Lets running rotations finish (up to `graceMs`), closes the endpoint, then the store. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    let timer: NodeJS.Timeout | undefined;
    const started = Date.now();
    await this.eventBridge.stop();
    await this.stepFunctions.stop(graceMs);
    graceMs = Math.max(0, graceMs - (Date.now() - started));
    await Promise.race([
      this.secrets.awaitIdle(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    await this.lambdas.stop();
    await this.rds.stop();
    await this.http.close();
    this.store.close();
    // Files the servers' tools wrote meanwhile (a snapshot dump) get their modes now, not at the next start.
    secureStateDir(this.stateDir);
    this.logger.info('local cloud stopped', { endpoint: this.endpoint });
  }
}

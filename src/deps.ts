import type { RDSClient } from '@aws-sdk/client-rds';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { lambdaClients } from './aws/lambda-clients';
import type { DatabaseEngine } from './engines/types';
import { createLogger, type Logger } from './log';
import { DEFAULT_NAMESPACE, emfMetrics, type MetricsPort, metricsOutput } from './metrics';

/**
 * Everything the core needs from outside, in one object: handlers build it once per container
 * from the environment (`depsFromEnv`), tests hand in the local cloud's clients and a collecting
 * logger. Nothing below src/ reads the environment itself.
 */
export interface Deps {
  secrets: SecretsManagerClient;
  rds: RDSClient;
  logger: Logger;
  /**
   * Where the cores report rotations, repairs, drift and fleet progress (CloudWatch EMF in a
   * handler); absent: nothing is recorded.
   */
  metrics?: MetricsPort | undefined;
  /** Engine lookup; defaults to src/engines' engineFor. */
  engineFor?: ((engine: string) => DatabaseEngine) | undefined;
  /** GetRandomPassword length (default 32; AWS templates' PASSWORD_LENGTH). */
  passwordLength?: number | undefined;
  /** Extra characters to exclude beyond the engine's own list (AWS templates' EXCLUDE_CHARACTERS). */
  excludeCharacters?: string | undefined;
  /** The alerts topic the repair and deletion workflows publish to (ALERT_TOPIC_ARN). */
  alertTopicArn?: string | undefined;
  /** The rotation Lambda scheduled rotation uses (ROTATION_LAMBDA_ARN). */
  rotationLambdaArn?: string | undefined;
  /** The rotate-secret state machine the fleet starts (ROTATE_SECRET_STATE_MACHINE_ARN). */
  rotateSecretArn?: string | undefined;
  /** The machine that rotates one page of a fleet (ROTATE_FLEET_PAGE_STATE_MACHINE_ARN). */
  rotateFleetPageArn?: string | undefined;
  /** The machine the reconciler hands stalled rotations to (ON_ROTATION_FAILURE_STATE_MACHINE_ARN). */
  onRotationFailureArn?: string | undefined;
  /** The reconciler's threshold when its input gives none (RECONCILE_OLDER_THAN_MINUTES). */
  reconcileOlderThanMinutes?: number | undefined;
}

/**
 * The service name each group of handlers logs under (Powertools' `service` key), so a log
 * query can tell a rotation step from a repair or a provisioning task.
 */
export type ServiceName =
  | 'credflow-rotation'
  | 'credflow-verify'
  | 'credflow-repair'
  | 'credflow-reconcile'
  | 'credflow-users'
  | 'credflow-database'
  | 'credflow-deletion'
  | 'credflow-fleet'
  | 'credflow-preflight'
  | 'credflow-adopt';

const cached = new Map<ServiceName, Deps>();

/** The dependencies of a handler in `service`, made once per container (cold start). */
export function depsFromEnv(service: ServiceName, env: NodeJS.ProcessEnv = process.env): Deps {
  let deps = cached.get(service);
  if (!deps) {
    const c = lambdaClients();
    const length = Number(env['PASSWORD_LENGTH'] ?? '32');
    deps = {
      secrets: c.secrets,
      rds: c.rds,
      logger: createLogger(service),
      metrics: emfMetrics(
        service,
        env['POWERTOOLS_METRICS_NAMESPACE'] || DEFAULT_NAMESPACE,
        metricsOutput(env['CREDFLOW_METRICS_OUTPUT']),
      ),
      passwordLength: Number.isInteger(length) && length >= 8 && length <= 4096 ? length : 32,
      excludeCharacters: env['EXCLUDE_CHARACTERS'] || undefined,
      alertTopicArn: env['ALERT_TOPIC_ARN'] || undefined,
      rotationLambdaArn: env['ROTATION_LAMBDA_ARN'] || undefined,
      rotateSecretArn: env['ROTATE_SECRET_STATE_MACHINE_ARN'] || undefined,
      rotateFleetPageArn: env['ROTATE_FLEET_PAGE_STATE_MACHINE_ARN'] || undefined,
      onRotationFailureArn: env['ON_ROTATION_FAILURE_STATE_MACHINE_ARN'] || undefined,
      reconcileOlderThanMinutes: minutes(env['RECONCILE_OLDER_THAN_MINUTES']),
    };
    cached.set(service, deps);
  }
  return deps;
}

/** Forgets the dependencies built so far (a host that re-points the SDK, like a new container). */
export function resetDeps(): void {
  cached.clear();
}

function minutes(value: string | undefined): number | undefined {
  const n = Number(value);
  return value && Number.isInteger(n) && n >= 0 ? n : undefined;
}

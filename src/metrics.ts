import { Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';

/**
 * Every metric credflow emits, its unit and the dimensions it carries besides `service`. One
 * table, so the alarms and the dashboard in resources/monitoring.yml, the cores that emit and the
 * tests name the same things. Dimensions are low-cardinality labels only: never a secret's
 * name, a username or a value.
 */
export const METRICS = {
  /** finishSecret moved AWSCURRENT (a step or the rotation Lambda; a roll-forward is a Repair). */
  RotationSucceeded: { unit: 'Count', dimensions: ['engine', 'strategy'] },
  /** From the pending version's creation (createSecret) to finishSecret. */
  RotationDuration: { unit: 'Milliseconds', dimensions: ['engine', 'strategy'] },
  /** A failed rotation reached on-rotation-failure (DiagnoseRotation). */
  RotationFailed: { unit: 'Count', dimensions: ['engine', 'strategy'] },
  /** A repair finished, by what it did: roll-forward, roll-back or none. */
  Repair: { unit: 'Count', dimensions: ['action'] },
  /**
   * A repair left a secret whose AWSCURRENT does not log in (status `broken`): applications
   * using it cannot connect until a person acts. The "secret broken" alarm watches this.
   */
  SecretsBroken: { unit: 'Count', dimensions: [] },
  /** verify found the database different from what credflow set up (grants, clones, bindings). */
  DriftDetected: { unit: 'Count', dimensions: ['engine', 'strategy'] },
  /** verify found any check failing (drift or not). */
  VerificationFailed: { unit: 'Count', dimensions: ['engine', 'strategy'] },
  /** Rotations left with an old AWSPENDING and nothing running on them (reconcile-rotations, per page). */
  StuckRotationsFound: { unit: 'Count', dimensions: [] },
  /** rotate-fleet: secrets selected for this run. */
  FleetSecretsSelected: { unit: 'Count', dimensions: [] },
  /** rotate-fleet: secrets rotated by this run. */
  FleetSecretsRotated: { unit: 'Count', dimensions: [] },
  /** rotate-fleet: secrets whose rotation failed in this run. */
  FleetSecretsFailed: { unit: 'Count', dimensions: [] },
  /**
   * Secrets due for longer than the overdue grace when rotate-fleet looked (the run before
   * should have rotated them): the "secret overdue for rotation" alarm watches this.
   */
  SecretsOverdue: { unit: 'Count', dimensions: [] },
} as const satisfies Record<string, { unit: 'Count' | 'Milliseconds'; dimensions: readonly string[] }>;

export type MetricName = keyof typeof METRICS;
export type MetricDimensions<N extends MetricName> = Record<
  (typeof METRICS)[N]['dimensions'][number],
  string
>;

/** The metrics surface the core depends on: one call per data point. */
export interface MetricsPort {
  put<N extends MetricName>(name: N, value: number, dimensions: MetricDimensions<N>): void;
}

/** The namespace when POWERTOOLS_METRICS_NAMESPACE is not set (serverless.yml sets `credflow/<stage>`). */
export const DEFAULT_NAMESPACE = 'credflow';

/** Where EMF lines go: stdout on Lambda (CloudWatch Logs reads it), stderr in the local cloud's log. */
export type MetricsOutput = 'stdout' | 'stderr' | 'off';

/** CREDFLOW_METRICS_OUTPUT as a MetricsOutput (anything else: stdout, Lambda's default). */
export function metricsOutput(value: string | undefined): MetricsOutput {
  return value === 'stderr' || value === 'off' ? value : 'stdout';
}

/**
 * CloudWatch embedded metric format through Powertools: one JSON line per data point, which
 * CloudWatch Logs turns into metrics on AWS (and which the local cloud's log keeps). Each point
 * carries two dimension sets, `[service]` for alarms and totals and `[service, ...its own]` for
 * the breakdown. Every point is serialised from its own instance and written at once, so
 * handlers running concurrently in one process (the local cloud) never share a buffer.
 */
export function emfMetrics(
  serviceName: string,
  namespace = DEFAULT_NAMESPACE,
  output: MetricsOutput = 'stdout',
): MetricsPort {
  if (output === 'off') return { put() {} };
  const stream = output === 'stderr' ? process.stderr : process.stdout;
  return {
    put(name, value, dimensions) {
      const m = new PowertoolsMetrics({ namespace, serviceName });
      m.addDimensions({});
      if (Object.keys(dimensions).length > 0) m.addDimensions(dimensions as Record<string, string>);
      m.addMetric(name, METRICS[name].unit, value);
      stream.write(`${JSON.stringify(m.serializeMetrics())}\n`);
    },
  };
}

export interface MetricPoint {
  name: MetricName;
  value: number;
  dimensions: Record<string, string>;
}

/** A metrics port that keeps the points in memory: for tests. */
export function memoryMetrics(): MetricsPort & { points: MetricPoint[] } {
  const points: MetricPoint[] = [];
  return {
    points,
    put(name, value, dimensions) {
      points.push({ name, value, dimensions: { ...dimensions } });
    },
  };
}

/**
 * Naming rules of Step Functions' AWS SDK integrations (`arn:aws:states:::aws-sdk:<service>:<action>`).
 * Step Functions runs them on the Java SDK v2, so its workflows see Java's member names:
 * acronyms become words (`DBInstances` -> `DbInstances`, `ARN` -> `Arn`), camelCase APIs become
 * PascalCase (`executionArn` -> `ExecutionArn`), and errors are `<Service>.<Name>Exception`
 * (`Rds.DbInstanceNotFoundException`, `SecretsManager.ResourceNotFoundException`).
 */

/** `aws-sdk:<service>` -> the PascalCase service name error names start with. */
const SERVICE_NAMES: Record<string, string> = {
  secretsmanager: 'SecretsManager',
  sfn: 'Sfn',
  eventbridge: 'EventBridge',
  rds: 'Rds',
  sns: 'Sns',
  lambda: 'Lambda',
};

/** A member name as the Java SDK spells it: PascalCase, acronym runs as one word. */
export function javaMemberName(name: string): string {
  const pascal = name.charAt(0).toUpperCase() + name.slice(1);
  return pascal.replace(
    /([A-Z])([A-Z]+)(?=[A-Z][a-z]|[0-9]|$)/g,
    (_m, first: string, rest: string) => first + rest.toLowerCase(),
  );
}

/** The error name a Retry/Catch matches for an error `code` of an aws-sdk integration. */
export function sdkErrorName(service: string, code: string): string {
  const svc = SERVICE_NAMES[service] ?? javaMemberName(service);
  const base = javaMemberName(code.replace(/Fault$/, ''));
  return `${svc}.${base.endsWith('Exception') ? base : `${base}Exception`}`;
}

/**
 * Member-like keys: structures are rewritten, maps (user keys such as version ids) are not.
 * Without the service model this is a heuristic: an object is a map when any key has a
 * character no AWS member name has.
 */
function isStructure(o: Record<string, unknown>): boolean {
  return Object.keys(o).every((k) => k === '$metadata' || /^[A-Za-z][A-Za-z0-9]*$/.test(k));
}

/** An SDK output as a workflow sees it: Java member names, recursively (maps left alone). */
export function toJavaShape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toJavaShape);
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  const o = value as Record<string, unknown>;
  const structure = isStructure(o);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === '$metadata' || v === undefined) continue;
    out[structure ? javaMemberName(k) : k] = toJavaShape(v);
  }
  return out;
}

/** Java's word-cased acronyms back to RDS's API spelling (`DbInstanceIdentifier` -> `DBInstanceIdentifier`). */
const RDS_ACRONYMS: [RegExp, string][] = [
  [/(^|[a-z])Db(?=[A-Z]|$)/g, '$1DB'],
  [/(^|[a-z])Iam(?=[A-Z]|$)/g, '$1IAM'],
  [/(^|[a-z])Az(?=[A-Z]|$)/g, '$1AZ'],
  [/^Ca(?=[A-Z])/g, 'CA'],
];

/** Workflow parameters -> the API member names the SDK client takes, for one service. */
export function toApiShape(service: string, value: unknown): unknown {
  const rename = (k: string): string => {
    if (service === 'sfn') return k.charAt(0).toLowerCase() + k.slice(1);
    if (service === 'rds') return RDS_ACRONYMS.reduce((s, [re, to]) => s.replace(re, to), k);
    return k;
  };
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    const structure = isStructure(o);
    const out: Record<string, unknown> = {};
    for (const [k, inner] of Object.entries(o)) {
      // StartExecution's Input is a JSON string on the wire; a workflow may pass an object.
      if (service === 'sfn' && k === 'Input' && inner !== null && typeof inner === 'object')
        out['input'] = JSON.stringify(inner);
      else out[structure ? rename(k) : k] = walk(inner);
    }
    return out;
  };
  return walk(value);
}

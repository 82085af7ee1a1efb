/**
 * The environment of one local Lambda function, as Lambda builds a sandbox's: the function's own
 * variables (serverless.yml), Lambda's reserved variables, the credentials it signs with, and
 * the few settings the runtime needs. Nothing else of the cloud's process.env reaches it: a
 * function never sees another function's settings or the cloud's own secrets.
 */

/** What Lambda's runtime sets whatever the function declares (values local where they differ). */
export interface LambdaIdentity {
  functionName: string;
  memoryMb: number;
  region: string;
}

/**
 * The host's variables a local function's runtime needs and Lambda would supply: where the AWS
 * endpoint is (the local cloud), the CA bundle that trusts the local RDS, the search path for
 * programs, and the local cloud's log and metrics settings (the cloud's log level is the
 * function's, as Lambda's log level setting would be).
 */
const RUNTIME_FROM_HOST = [
  'AWS_ENDPOINT_URL',
  'NODE_EXTRA_CA_CERTS',
  'PATH',
  'CREDFLOW_METRICS_OUTPUT',
  'CREDFLOW_LOG_LEVEL',
  'LOG_LEVEL',
  'POWERTOOLS_LOG_LEVEL',
  'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED',
] as const;

/**
 * The credentials a function signs its AWS calls with, as Lambda hands a function its execution
 * role's temporary credentials in these three variables. Locally: the host's (the local cloud's
 * administrator keys); the one place to change when each function gets its own role's.
 */
export function functionCredentials(host: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'] as const) {
    const v = host[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * The whole environment of a function's thread. The function's own variables win over the
 * runtime's defaults (as `TZ` or `NODE_EXTRA_CA_CERTS` in serverless.yml do on Lambda), except
 * the reserved ones Lambda does not let a function set.
 */
export function lambdaEnvironment(
  fn: LambdaIdentity,
  own: Readonly<Record<string, string>>,
  host: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    LAMBDA_TASK_ROOT: process.cwd(),
    PATH: '/usr/local/bin:/usr/bin:/bin',
  };
  for (const k of RUNTIME_FROM_HOST) {
    const v = host[k];
    if (v !== undefined) env[k] = v;
  }
  Object.assign(env, own);
  return {
    ...env,
    // Reserved: Lambda sets these itself and refuses them in a function's configuration.
    AWS_REGION: fn.region,
    AWS_DEFAULT_REGION: fn.region,
    AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.functionName}`,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    // The function's own role credentials when the cloud gave it some (IAM on), else the host's:
    // never a mix, and never the host's keys over the role's.
    ...functionCredentials(own['AWS_ACCESS_KEY_ID'] !== undefined ? own : host),
  };
}

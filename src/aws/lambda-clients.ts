import { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { countCalls } from './call-stats';
import { clientSettings } from './settings';

/** What the Lambda handlers call: Secrets Manager, and RDS to locate managed master secrets. */
export interface LambdaClients {
  secrets: SecretsManagerClient;
  rds: RDSClient;
}

let cached: LambdaClients | undefined;

/**
 * The process-wide clients of a Lambda handler (default credential chain and endpoint), made
 * once per cold start. Only these two packages enter a handler's bundle: the CLI's other
 * clients (Step Functions, EventBridge, SNS) live in `./clients`.
 */
export function lambdaClients(): LambdaClients {
  if (!cached) {
    const s = clientSettings({});
    cached = { secrets: new SecretsManagerClient(s), rds: new RDSClient(s) };
    countCalls(cached.secrets);
  }
  return cached;
}

/**
 * Drops the clients so the next handler call builds them from the environment again: for a host
 * that re-points AWS_ENDPOINT_URL (a second local cloud in one process), like a new container.
 */
export function resetLambdaClients(): void {
  cached = undefined;
}

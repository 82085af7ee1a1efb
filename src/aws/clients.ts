import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';

/** Explicit client settings; omitted fields come from the SDK's default chain (incl. AWS_ENDPOINT_URL). */
export interface ClientConfig {
  endpoint?: string | undefined;
  region?: string | undefined;
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
}

export interface AwsClients {
  secrets: SecretsManagerClient;
  rds: RDSClient;
  sfn: SFNClient;
  events: EventBridgeClient;
  sns: SNSClient;
}

function settings(config: ClientConfig) {
  return {
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(config.region ? { region: config.region } : {}),
    ...(config.credentials ? { credentials: config.credentials } : {}),
    // Our own step-level retries live in the state machine; keep SDK retries short.
    maxAttempts: 3,
  };
}

/** Builds one set of SDK v3 clients. Handlers call `clients()` once per cold start. */
export function createClients(config: ClientConfig = {}): AwsClients {
  const s = settings(config);
  return {
    secrets: new SecretsManagerClient(s),
    rds: new RDSClient(s),
    sfn: new SFNClient(s),
    events: new EventBridgeClient(s),
    sns: new SNSClient(s),
  };
}

let cached: AwsClients | undefined;

/** The process-wide clients for Lambda handlers (default credential chain and endpoint). */
export function clients(): AwsClients {
  cached ??= createClients();
  return cached;
}

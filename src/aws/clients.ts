import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';

import { type ClientConfig, clientSettings } from './settings';

export type { ClientConfig } from './settings';

export interface AwsClients {
  secrets: SecretsManagerClient;
  rds: RDSClient;
  sfn: SFNClient;
  events: EventBridgeClient;
  sns: SNSClient;
}

/** Builds one set of SDK v3 clients (CLI, local cloud, tests). Handlers use `lambdaClients()`. */
export function createClients(config: ClientConfig = {}): AwsClients {
  const s = clientSettings(config);
  return {
    secrets: new SecretsManagerClient(s),
    rds: new RDSClient(s),
    sfn: new SFNClient(s),
    events: new EventBridgeClient(s),
    sns: new SNSClient(s),
  };
}

import { randomUUID } from 'node:crypto';
import { type AwsEvent, eventTime } from '../events/event';
import type { EventLog } from '../events/log';
import type { RotationEventName } from './rotation-runner';

/** Who is calling, for the CloudTrail-shaped events. */
export interface Caller {
  requestId?: string | undefined;
  accessKeyId?: string | undefined;
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
  /** An AWS service acting for itself (`rds`): may change the secrets it owns. */
  service?: string | undefined;
}

/** CloudTrail's requestParameters: the request in camelCase, never a secret value. */
function cloudTrailParameters(input: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    if (v === undefined || k === 'SecretString' || k === 'SecretBinary') continue;
    const key = k === 'RotationLambdaARN' ? 'rotationLambdaARN' : k[0]!.toLowerCase() + k.slice(1);
    out[key] = v instanceof Date ? eventTime(v) : v;
  }
  return out;
}

/**
 * The events Secrets Manager sends to EventBridge as AWS does: every change as `AWS API Call via
 * CloudTrail`, rotation milestones as `AWS Service Event via CloudTrail`. Published in the same
 * transaction as the change they report.
 */
export class CloudTrail {
  constructor(
    private readonly events: EventLog,
    private readonly where: { region: string; accountId: string },
    private readonly now: () => number,
  ) {}

  apiEvent(
    eventName: string,
    caller: Caller,
    request: object,
    responseElements: Record<string, unknown>,
  ): AwsEvent {
    const by = caller.service ? `${caller.service}.amazonaws.com` : undefined;
    return this.publish('AWS API Call via CloudTrail', 'AwsApiCall', eventName, {
      userIdentity: this.identity(caller),
      sourceIPAddress: by ?? caller.sourceIp ?? '127.0.0.1',
      userAgent: by ?? caller.userAgent ?? '',
      requestParameters: cloudTrailParameters(request),
      responseElements: Object.keys(responseElements).length > 0 ? responseElements : null,
      requestID: caller.requestId ?? randomUUID(),
    });
  }

  serviceEvent(arn: string, eventName: RotationEventName, extra: Record<string, unknown> = {}): AwsEvent {
    return this.publish('AWS Service Event via CloudTrail', 'AwsServiceEvent', eventName, {
      userIdentity: { accountId: this.where.accountId, invokedBy: 'secretsmanager.amazonaws.com' },
      sourceIPAddress: 'secretsmanager.amazonaws.com',
      userAgent: 'secretsmanager.amazonaws.com',
      requestParameters: null,
      responseElements: null,
      additionalEventData: { SecretId: arn },
      ...(extra['errorCode'] ? { errorCode: extra['errorCode'] } : {}),
      requestID: randomUUID(),
    });
  }

  /** The CloudTrail record around `fields` (who, what was asked, what came back). */
  private publish(
    detailType: string,
    eventType: 'AwsApiCall' | 'AwsServiceEvent',
    eventName: string,
    fields: { userIdentity: unknown; sourceIPAddress: string; userAgent: string; requestID: string } & Record<
      string,
      unknown
    >,
  ): AwsEvent {
    const now = new Date(this.now());
    const eventID = randomUUID();
    const { userIdentity, sourceIPAddress, userAgent, requestID, ...rest } = fields;
    return this.events.publish({
      id: eventID,
      source: 'aws.secretsmanager',
      'detail-type': detailType,
      time: now,
      detail: {
        eventVersion: '1.08',
        userIdentity,
        eventTime: eventTime(now),
        eventSource: 'secretsmanager.amazonaws.com',
        eventName,
        awsRegion: this.where.region,
        sourceIPAddress,
        userAgent,
        ...rest,
        requestID,
        eventID,
        readOnly: false,
        eventType,
        managementEvent: true,
        recipientAccountId: this.where.accountId,
        eventCategory: 'Management',
      },
    });
  }

  private identity(caller: Caller): Record<string, unknown> {
    if (caller.service) {
      return { type: 'AWSService', invokedBy: `${caller.service}.amazonaws.com` };
    }
    return {
      type: 'IAMUser',
      principalId: caller.accessKeyId ?? 'local',
      arn: `arn:aws:iam::${this.where.accountId}:user/credflow-local`,
      accountId: this.where.accountId,
      accessKeyId: caller.accessKeyId ?? '',
      userName: 'credflow-local',
    };
  }
}

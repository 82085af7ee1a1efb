import type { QueryService } from '../http/registry';
import { attributesFromForm, type Sns } from './service';

/** SNS's query protocol (Action=Publish&TopicArn=...). */
export function snsQueryService(sns: Sns): QueryService {
  return {
    protocol: 'query',
    signingName: 'sns',
    accessDeniedCode: 'AuthorizationError',
    // A message is at most 256 KiB; form encoding can triple it.
    maxRequestBytes: 1024 * 1024,
    xmlNamespace: 'http://sns.amazonaws.com/doc/2010-03-31/',
    actions: {
      CreateTopic: (p) => sns.createTopic(p['Name'] ?? ''),
      ListTopics: () => {
        const t = sns.listTopics();
        return { Topics: { member: t.Topics } };
      },
      Publish: (p) => {
        const attributes = attributesFromForm(p);
        return sns.publish({
          ...(p['TopicArn'] ? { TopicArn: p['TopicArn'] } : {}),
          ...(p['Message'] ? { Message: p['Message'] } : {}),
          ...(p['Subject'] !== undefined ? { Subject: p['Subject'] } : {}),
          ...(Object.keys(attributes).length ? { MessageAttributes: attributes } : {}),
        });
      },
    },
    statusFor: (e) => e.status,
  };
}

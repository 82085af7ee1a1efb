/** What each SNS call needs of IAM ("Actions, resources, and condition keys for Amazon SNS"). */
import type { AuthzDescriber } from '../iam/gate';

export function snsAuthz(where: { region: string; accountId: string }): AuthzDescriber {
  return (action, p) => {
    if (action === 'ListTopics') return [{ action: 'sns:ListTopics', resource: '*' }];
    if (action === 'CreateTopic')
      return [
        {
          action: 'sns:CreateTopic',
          resource: `arn:aws:sns:${where.region}:${where.accountId}:${String(p['Name'] ?? '')}`,
        },
      ];
    if (action === 'Publish') return [{ action: 'sns:Publish', resource: String(p['TopicArn'] ?? '') }];
    return undefined;
  };
}

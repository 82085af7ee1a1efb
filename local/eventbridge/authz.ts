/**
 * What each EventBridge call needs of IAM ("Actions, resources, and condition keys for Amazon
 * EventBridge"): rules on the default bus by name, events on their bus.
 */
import type { AuthzDescriber, AuthzNeed } from '../iam/gate';

const ON_RULE: Record<string, string> = {
  PutRule: 'Name',
  DeleteRule: 'Name',
  DescribeRule: 'Name',
  PutTargets: 'Rule',
  RemoveTargets: 'Rule',
  ListTargetsByRule: 'Rule',
};

export function eventBridgeAuthz(where: { region: string; accountId: string }): AuthzDescriber {
  const arn = (rest: string) => `arn:aws:events:${where.region}:${where.accountId}:${rest}`;
  return (op, input) => {
    if (op === 'ListRules' || op === 'TestEventPattern') return [{ action: `events:${op}`, resource: '*' }];
    if (op === 'PutEvents') {
      const buses = new Set(
        ((input['Entries'] as { EventBusName?: string }[] | undefined) ?? []).map(
          (e) => e.EventBusName ?? 'default',
        ),
      );
      if (buses.size === 0) buses.add('default');
      return [...buses].map((b) => ({
        action: 'events:PutEvents',
        resource: b.startsWith('arn:') ? b : arn(`event-bus/${b}`),
      }));
    }
    const member = ON_RULE[op];
    if (!member) return undefined;
    const needs: AuthzNeed[] = [
      { action: `events:${op}`, resource: arn(`rule/${String(input[member] ?? '')}`) },
    ];
    if (op === 'PutTargets') {
      // A target's RoleArn is a role passed to EventBridge: iam:PassRole on it, with
      // iam:PassedToService = events.amazonaws.com (IAM User Guide, "Grant a user permissions to
      // pass a role to an AWS service"; EventBridge User Guide, "Using IAM roles to send events
      // to targets": the caller of PutTargets needs iam:PassRole for the role it names).
      const roles = new Set(
        (Array.isArray(input['Targets']) ? (input['Targets'] as { RoleArn?: unknown }[]) : [])
          .map((t) => t?.RoleArn)
          .filter((r): r is string => typeof r === 'string' && r !== ''),
      );
      for (const role of roles)
        needs.push({
          action: 'iam:PassRole',
          resource: role,
          context: { 'iam:PassedToService': 'events.amazonaws.com' },
        });
    }
    return needs;
  };
}

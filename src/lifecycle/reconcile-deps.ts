import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import { lambdaClients } from '../aws/lambda-clients';
import { clientSettings } from '../aws/settings';
import { ValidationError } from '../errors';
import { createLogger } from '../log';
import { tokenFromExecutionName } from '../rotation/input';
import { aws } from '../rotation/versions';
import {
  DEFAULT_OLDER_THAN_MINUTES,
  type ReconcileConfig,
  type ReconcileDeps,
  type RunningRotation,
} from './reconcile';

const rotateSecretInput = z.object({
  secretId: z.string().min(1),
  token: z.string().min(32).max(64).optional(),
});

/**
 * The rotate-secret executions running now and the rotation each drives: its token is the
 * input's `token`, else derived from the execution name exactly as the steps derive it. Few run
 * at once (rotate-fleet's concurrency), so each is described.
 */
export async function runningRotations(sfn: SFNClient, rotateSecretArn: string): Promise<RunningRotation[]> {
  const arns: string[] = [];
  let next: string | undefined;
  do {
    const page = await aws('ListExecutions', () =>
      sfn.send(
        new ListExecutionsCommand({
          stateMachineArn: rotateSecretArn,
          statusFilter: 'RUNNING',
          maxResults: 1000,
          ...(next ? { nextToken: next } : {}),
        }),
      ),
    );
    for (const e of page.executions ?? []) if (e.executionArn) arns.push(e.executionArn);
    next = page.nextToken;
  } while (next);
  const out: RunningRotation[] = [];
  for (let i = 0; i < arns.length; i += 8) {
    const described = await Promise.all(
      arns
        .slice(i, i + 8)
        .map((executionArn) =>
          aws(`DescribeExecution ${executionArn}`, () =>
            sfn.send(new DescribeExecutionCommand({ executionArn })),
          ),
        ),
    );
    for (const d of described) {
      let input: unknown;
      try {
        input = JSON.parse(d.input ?? '');
      } catch {
        continue;
      }
      // An input that names no secret fails its first step; it rotates nothing.
      const p = rotateSecretInput.safeParse(input);
      if (!p.success || !d.executionArn || !d.name) continue;
      out.push({
        executionArn: d.executionArn,
        secretId: p.data.secretId,
        token: p.data.token ?? tokenFromExecutionName(p.data.secretId, d.name),
      });
    }
  }
  return out;
}

/**
 * What FindStalledRotations runs with on Lambda: the handlers' Secrets Manager client, a Step
 * Functions client of its own (only this function's bundle carries that package), and the
 * configuration serverless.yml puts in its environment. `close` releases the Step Functions client.
 */
export function reconcileFromEnv(env: NodeJS.ProcessEnv = process.env): {
  deps: ReconcileDeps;
  config: ReconcileConfig;
  close(): void;
} {
  const rotateSecretArn = env['ROTATE_SECRET_STATE_MACHINE_ARN'];
  if (!rotateSecretArn)
    throw new ValidationError('reconcile-rotations: the rotate-secret state machine ARN is not configured');
  const threshold = Number(env['RECONCILE_OLDER_THAN_MINUTES'] ?? DEFAULT_OLDER_THAN_MINUTES);
  const sfn = new SFNClient(clientSettings({}));
  return {
    deps: {
      secrets: lambdaClients().secrets,
      runningRotations: () => runningRotations(sfn, rotateSecretArn),
      logger: createLogger('credflow-reconcile'),
    },
    config: {
      onRotationFailureArn: env['ON_ROTATION_FAILURE_STATE_MACHINE_ARN'],
      alertTopicArn: env['ALERT_TOPIC_ARN'],
      defaultOlderThanMinutes:
        Number.isInteger(threshold) && threshold >= 0 ? threshold : DEFAULT_OLDER_THAN_MINUTES,
    },
    close: () => sfn.destroy(),
  };
}

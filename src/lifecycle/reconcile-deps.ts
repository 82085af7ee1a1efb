import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import { aws } from '../aws/errors';
import { clientSettings } from '../aws/settings';
import { depsFromEnv } from '../deps';
import { ValidationError } from '../errors';
import { tokenFromExecutionName } from '../rotation/input';
import type { ReconcileDeps, RunningRotation } from './reconcile';

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

let cached: ReconcileDeps | undefined;

/**
 * What FindStalledRotations runs with on Lambda: the handlers' dependencies plus a Step Functions
 * client of its own (only this function's bundle carries that package), made once per container.
 */
export function reconcileDepsFromEnv(env: NodeJS.ProcessEnv = process.env): ReconcileDeps {
  if (!cached) {
    const rotateSecretArn = env['ROTATE_SECRET_STATE_MACHINE_ARN'];
    if (!rotateSecretArn)
      throw new ValidationError('reconcile-rotations: the rotate-secret state machine ARN is not configured');
    const sfn = new SFNClient(clientSettings({}));
    cached = {
      ...depsFromEnv('credflow-reconcile', env),
      runningRotations: () => runningRotations(sfn, rotateSecretArn),
    };
  }
  return cached;
}

/** Forgets the container's dependencies (a host that re-points the SDK). */
export function resetReconcileDeps(): void {
  cached = undefined;
}

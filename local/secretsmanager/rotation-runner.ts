import { randomUUID } from 'node:crypto';
import type { LambdaRegistry } from '../lambda/registry';
import type { LocalLogger } from '../log';

const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

export type RotationEventName =
  | 'RotationStarted'
  | 'RotationSucceeded'
  | 'RotationFailed'
  | 'RotationAbandoned';

/** What the runner needs from Secrets Manager. */
export interface RotationHost {
  serviceEvent(arn: string, eventName: RotationEventName, extra?: Record<string, unknown>): void;
  /** After finishSecret: checks the outcome and records it; returns a reason when it is a failure. */
  complete(arn: string, token: string): string | undefined;
  /** IAM: may Secrets Manager (the service principal) invoke the rotation function for this secret? Throws if not. */
  authorizeInvoke?(lambdaArn: string, secretArn: string): void;
}

interface Job {
  token: string;
  cancelled: boolean;
  done: Promise<void>;
}

/**
 * Runs a rotation the way Secrets Manager does: after RotateSecret answered, invoke the
 * rotation function once per step, in order, with `{Step, SecretId, ClientRequestToken,
 * RotationToken}`, stopping at the first error. One rotation per secret at a time.
 */
export class RotationRunner {
  private readonly jobs = new Map<string, Job>();

  constructor(
    private readonly lambdas: LambdaRegistry,
    private readonly host: RotationHost,
    private readonly logger: LocalLogger,
  ) {}

  start(arn: string, token: string, lambdaArn: string): void {
    const job: Job = { token, cancelled: false, done: Promise.resolve() };
    job.done = this.run(arn, lambdaArn, job).finally(() => {
      if (this.jobs.get(arn) === job) this.jobs.delete(arn);
    });
    this.jobs.set(arn, job);
  }

  /**
   * RotateImmediately=false: Secrets Manager "tests the rotation configuration by running the
   * testSecret step of the Lambda rotation function" (RotateSecret, API reference). Resolves with
   * the function's error name when the test failed, undefined when it passed.
   */
  async testConfiguration(arn: string, token: string, lambdaArn: string): Promise<string | undefined> {
    try {
      this.host.authorizeInvoke?.(lambdaArn, arn);
      await this.lambdas.invoke(lambdaArn, {
        Step: 'testSecret',
        SecretId: arn,
        ClientRequestToken: token,
        RotationToken: randomUUID(),
      });
      return undefined;
    } catch (err) {
      const errorCode = (err as Error)?.name ?? 'Error';
      this.logger.warn('rotation configuration test failed', { secretArn: arn, token, errorCode });
      return errorCode;
    }
  }

  /** CancelRotateSecret: no further step is invoked (the one running finishes). */
  cancel(arn: string): void {
    const job = this.jobs.get(arn);
    if (job) job.cancelled = true;
  }

  /** Resolves once no rotation (of `arn`, or of any secret) is running. Never rejects. */
  async awaitIdle(arn?: string): Promise<void> {
    for (;;) {
      const pending =
        arn === undefined ? [...this.jobs.values()] : [this.jobs.get(arn)].filter((j) => j !== undefined);
      if (pending.length === 0) return;
      await Promise.allSettled(pending.map((j) => j.done));
    }
  }

  private async run(arn: string, lambdaArn: string, job: Job): Promise<void> {
    // Let RotateSecret's response go out first, as the real service rotates asynchronously.
    await new Promise((resolve) => setImmediate(resolve));
    const rotationToken = randomUUID();
    try {
      this.host.serviceEvent(arn, 'RotationStarted');
      for (const step of ROTATION_STEPS) {
        if (job.cancelled) {
          this.logger.info('rotation cancelled', { secretArn: arn, token: job.token, before: step });
          return;
        }
        try {
          this.host.authorizeInvoke?.(lambdaArn, arn);
          await this.lambdas.invoke(lambdaArn, {
            Step: step,
            SecretId: arn,
            ClientRequestToken: job.token,
            RotationToken: rotationToken,
          });
        } catch (err) {
          // The function's error message is its own business and may quote values: log the name only.
          const errorCode = (err as Error)?.name ?? 'Error';
          this.logger.warn('rotation step failed', { secretArn: arn, token: job.token, step, errorCode });
          this.host.serviceEvent(arn, 'RotationFailed', { errorCode, step });
          return;
        }
      }
      const failure = this.host.complete(arn, job.token);
      if (failure !== undefined) {
        this.logger.warn('rotation did not finish', { secretArn: arn, token: job.token, reason: failure });
        this.host.serviceEvent(arn, 'RotationFailed', { errorCode: 'RotationIncomplete' });
      }
    } catch (err) {
      // The secret vanished under us (force-deleted) or the store closed: nothing left to record.
      this.logger.warn('rotation aborted', { secretArn: arn, error: (err as Error)?.name });
    }
  }
}

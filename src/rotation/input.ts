import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseWith } from '../validate';
import { STEPS, STRATEGIES, type StepInput, type StepName } from './types';

const request = z.object({
  secretId: z.string().min(1, 'secretId is required').max(2048),
  token: z.string().min(32).max(64).optional(),
  strategy: z.enum(STRATEGIES).optional(),
});

/** A Task's input from the state machine: the execution's request plus the execution name. */
const taskInput = z.union([
  z.object({ request, executionName: z.string().min(1).max(80) }),
  request.extend({ token: z.string().min(32).max(64) }),
]);

/**
 * Secrets Manager tokens are 32-64 characters. An execution name outside that range (a person
 * typed "rotate-now-1") maps to a stable UUID-shaped token, so a rerun of the same execution
 * resumes the same rotation.
 */
export function tokenFromExecutionName(secretId: string, executionName: string): string {
  if (executionName.length >= 32 && executionName.length <= 64) return executionName;
  const h = createHash('sha256').update(`${secretId}\0${executionName}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Parses a rotation Task's input (state machine path). */
export function parseStepInput(event: unknown): StepInput {
  const v = parseWith(taskInput, event, 'invalid rotation step input');
  if ('request' in v) {
    const { secretId, strategy } = v.request;
    return {
      secretId,
      token: v.request.token ?? tokenFromExecutionName(secretId, v.executionName),
      strategy,
    };
  }
  return { secretId: v.secretId, token: v.token, strategy: v.strategy };
}

const rotationEvent = z.object({
  Step: z.enum(STEPS),
  SecretId: z.string().min(1),
  ClientRequestToken: z.string().min(1),
  RotationToken: z.string().optional(),
});

/** Parses the event Secrets Manager sends a rotation function. */
export function parseRotationEvent(event: unknown): { step: StepName; input: StepInput } {
  const e = parseWith(rotationEvent, event, 'invalid Secrets Manager rotation event');
  return { step: e.Step, input: { secretId: e.SecretId, token: e.ClientRequestToken } };
}

import { lambdaClients } from '../aws/lambda-clients';
import { createLogger } from '../log';
import type { RotationDeps } from './types';

/**
 * The dependencies a Lambda handler runs the steps with: process-wide SDK clients and the
 * AWS templates' environment knobs (PASSWORD_LENGTH, EXCLUDE_CHARACTERS).
 */
export function rotationDepsFromEnv(env: NodeJS.ProcessEnv = process.env): RotationDeps {
  const c = lambdaClients();
  const length = Number(env['PASSWORD_LENGTH'] ?? '32');
  return {
    secrets: c.secrets,
    rds: c.rds,
    logger: createLogger('credflow-rotation'),
    passwordLength: Number.isInteger(length) && length >= 8 && length <= 4096 ? length : 32,
    ...(env['EXCLUDE_CHARACTERS'] ? { excludeCharacters: env['EXCLUDE_CHARACTERS'] } : {}),
  };
}

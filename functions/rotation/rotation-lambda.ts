import { rotationDepsFromEnv } from '../../src/rotation/deps';
import { handleRotationEvent } from '../../src/rotation/lambda';

/** The Secrets Manager rotation function: RotateSecret, the console and native schedules call it. */
export const handler = async (event: unknown) => handleRotationEvent(rotationDepsFromEnv(), event);

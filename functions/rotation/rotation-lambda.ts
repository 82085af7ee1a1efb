import { taskHandler } from '../../src/handler';
import { parseRotationEvent } from '../../src/rotation/input';
import { handleRotationEvent } from '../../src/rotation/lambda';

/** The Secrets Manager rotation function: RotateSecret, the console and native schedules call it. */
export const handler = taskHandler('credflow-rotation', parseRotationEvent, handleRotationEvent);

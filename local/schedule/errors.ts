import { LocalCloudError } from '../errors';

/**
 * A schedule expression that cannot be read or never fires. The message is the one users see;
 * each service answers it with its own error code (Secrets Manager InvalidParameterException,
 * EventBridge ValidationException).
 */
export class ScheduleExpressionError extends LocalCloudError {
  override name = 'ScheduleExpressionError' as const;
}

import { LocalCloudError } from '../errors';

/** PutRule/TestEventPattern refuse the pattern; the local API maps it to InvalidEventPatternException. */
export class InvalidEventPatternError extends LocalCloudError {
  override name = 'InvalidEventPatternError' as const;
  /** The reason alone, without the "Event pattern is not valid" preamble. */
  readonly reason: string;
  /** Where in the pattern, as dotted field names (`detail.state`); empty for the pattern itself. */
  readonly path: string;

  constructor(reason: string, path: readonly string[] = [], options?: ErrorOptions) {
    const where = path.length > 0 ? ` at "${path.join('.')}"` : '';
    super(`Event pattern is not valid. Reason: ${reason}${where}`, options);
    this.reason = reason;
    this.path = path.join('.');
  }
}

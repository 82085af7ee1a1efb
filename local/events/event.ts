/** An event in EventBridge's envelope, as AWS services deliver them. */
export interface AwsEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  /** ISO 8601 to the second, UTC (`2024-05-01T12:00:00Z`). */
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

/** What a publisher supplies; the log fills in the envelope. */
export type EventInput = Pick<AwsEvent, 'source' | 'detail-type' | 'detail'> &
  Partial<Pick<AwsEvent, 'id' | 'account' | 'region' | 'resources'>> & { time?: string | Date };

/** EventBridge's time format: seconds precision, `Z`. */
export function eventTime(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

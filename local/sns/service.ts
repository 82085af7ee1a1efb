import { randomUUID } from 'node:crypto';
import { AwsError } from '../http/errors';
import type { Store } from '../store/db';
import { SnsStore } from './store';

export interface PublishedMessage {
  messageId: string;
  topicArn: string;
  subject?: string | undefined;
  message: string;
  time: string;
  /** String MessageAttributes by name (what subscription filter policies match on). */
  attributes?: Record<string, string>;
}

/** A MessageAttributes value as the query protocol carries it. */
export interface MessageAttribute {
  DataType: string;
  StringValue?: string;
}

/**
 * `MessageAttributes.entry.N.Name` / `.Value.DataType` / `.Value.StringValue` form fields as a
 * map; SNS's own checks on names, types and empty values.
 */
export function attributesFromForm(p: Record<string, string>): Record<string, MessageAttribute> {
  const out: Record<string, MessageAttribute> = {};
  for (let n = 1; p[`MessageAttributes.entry.${n}.Name`] !== undefined; n++) {
    const name = p[`MessageAttributes.entry.${n}.Name`] ?? '';
    const type = p[`MessageAttributes.entry.${n}.Value.DataType`];
    const value = p[`MessageAttributes.entry.${n}.Value.StringValue`];
    if (!/^[A-Za-z0-9_.-]{1,256}$/.test(name) || name.startsWith('AWS.') || name.startsWith('Amazon.'))
      throw new AwsError('InvalidParameterValue', `The message attribute name '${name}' is invalid.`);
    if (!type || !/^(String|Number|Binary)(\..+)?$/.test(type))
      throw new AwsError(
        'InvalidParameterValue',
        `The message attribute '${name}' has an invalid message attribute type.`,
      );
    if (type.startsWith('Binary'))
      throw new AwsError(
        'InvalidParameterValue',
        `The message attribute '${name}': Binary is not kept by the local SNS.`,
      );
    if (value === undefined || value === '')
      throw new AwsError(
        'ParameterValueInvalid',
        `The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${type}'.`,
      );
    out[name] = { DataType: type, StringValue: value };
  }
  if (Object.keys(out).length > 10)
    throw new AwsError(
      'InvalidParameterValue',
      'Number of message attributes [' + Object.keys(out).length + '] exceeds the allowed maximum [10].',
    );
  return out;
}

/**
 * SNS, as much as credflow's alerts need: topics and Publish. Nothing is delivered anywhere;
 * messages are kept (the local alerts log `credflow alerts` shows).
 */
export class Sns {
  private readonly db: SnsStore;

  constructor(
    store: Store,
    private readonly where: { region: string; accountId: string },
  ) {
    this.db = new SnsStore(store);
  }

  createTopic(name: string): { TopicArn: string } {
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(name))
      throw new AwsError('InvalidParameter', 'Invalid parameter: Topic Name');
    const arn = `arn:aws:sns:${this.where.region}:${this.where.accountId}:${name}`;
    this.db.addTopic(arn, name);
    return { TopicArn: arn };
  }

  listTopics(): { Topics: { TopicArn: string }[] } {
    return { Topics: this.db.topicArns().map((arn) => ({ TopicArn: arn })) };
  }

  publish(i: {
    TopicArn?: string;
    Message?: string;
    Subject?: string;
    MessageAttributes?: Record<string, MessageAttribute>;
  }): { MessageId: string } {
    if (!i.Message) throw new AwsError('InvalidParameter', 'Invalid parameter: Empty message');
    // SNS: ASCII text, no line breaks, at most 100 characters.
    if (i.Subject !== undefined && !/^[\x20-\x7e]{1,100}$/.test(i.Subject))
      throw new AwsError('InvalidParameter', 'Invalid parameter: Subject');
    if (!this.db.topicExists(i.TopicArn ?? '')) throw new AwsError('NotFound', 'Topic does not exist', 404);
    const id = randomUUID();
    this.db.addMessage({
      id,
      topic_arn: i.TopicArn ?? '',
      subject: i.Subject ?? null,
      message: i.Message,
      time_ms: Date.now(),
      attributes:
        i.MessageAttributes && Object.keys(i.MessageAttributes).length
          ? JSON.stringify(i.MessageAttributes)
          : null,
    });
    return { MessageId: id };
  }

  /** Published messages, oldest first. */
  messages(): PublishedMessage[] {
    return this.db.messages().map((r) => {
      const attrs = r.attributes ? (JSON.parse(r.attributes) as Record<string, MessageAttribute>) : {};
      const attributes = Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, v.StringValue ?? '']));
      return {
        messageId: r.id,
        topicArn: r.topic_arn,
        ...(r.subject ? { subject: r.subject } : {}),
        message: r.message,
        time: new Date(r.time_ms).toISOString(),
        ...(Object.keys(attributes).length ? { attributes } : {}),
      };
    });
  }
}

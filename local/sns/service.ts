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

  publish(i: { TopicArn?: string; Message?: string; Subject?: string }): { MessageId: string } {
    if (!i.Message) throw new AwsError('InvalidParameter', 'Invalid parameter: Empty message');
    if (!this.db.topicExists(i.TopicArn ?? '')) throw new AwsError('NotFound', 'Topic does not exist', 404);
    const id = randomUUID();
    this.db.addMessage({
      id,
      topic_arn: i.TopicArn ?? '',
      subject: i.Subject ?? null,
      message: i.Message,
      time_ms: Date.now(),
    });
    return { MessageId: id };
  }

  /** Published messages, oldest first. */
  messages(): PublishedMessage[] {
    return this.db.messages().map((r) => ({
      messageId: r.id,
      topicArn: r.topic_arn,
      ...(r.subject ? { subject: r.subject } : {}),
      message: r.message,
      time: new Date(r.time_ms).toISOString(),
    }));
  }
}

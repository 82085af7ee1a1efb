import { randomUUID } from 'node:crypto';
import { AwsError } from '../http/errors';
import type { QueryService } from '../http/registry';
import type { Store } from '../store/db';

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
  constructor(
    private readonly store: Store,
    private readonly where: { region: string; accountId: string },
  ) {
    store.migrate('sns', [
      {
        id: '001-topics',
        up: `CREATE TABLE sns_topics (arn TEXT PRIMARY KEY, name TEXT NOT NULL);
             CREATE TABLE sns_messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, topic_arn TEXT NOT NULL,
               subject TEXT, message TEXT NOT NULL, time_ms INTEGER NOT NULL);`,
      },
    ]);
  }

  createTopic(name: string): { TopicArn: string } {
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(name))
      throw new AwsError('InvalidParameter', 'Invalid parameter: Topic Name');
    const arn = `arn:aws:sns:${this.where.region}:${this.where.accountId}:${name}`;
    this.store.db.prepare('INSERT OR IGNORE INTO sns_topics (arn, name) VALUES (?, ?)').run(arn, name);
    return { TopicArn: arn };
  }

  listTopics(): { Topics: { TopicArn: string }[] } {
    const rows = this.store.db.prepare('SELECT arn FROM sns_topics ORDER BY arn').all() as { arn: string }[];
    return { Topics: rows.map((r) => ({ TopicArn: r.arn })) };
  }

  publish(i: { TopicArn?: string; Message?: string; Subject?: string }): { MessageId: string } {
    if (!i.Message) throw new AwsError('InvalidParameter', 'Invalid parameter: Empty message');
    const topic = this.store.db.prepare('SELECT arn FROM sns_topics WHERE arn = ?').get(i.TopicArn ?? '');
    if (!topic) throw new AwsError('NotFound', 'Topic does not exist', 404);
    const id = randomUUID();
    this.store.db
      .prepare('INSERT INTO sns_messages (id, topic_arn, subject, message, time_ms) VALUES (?, ?, ?, ?, ?)')
      .run(id, i.TopicArn, i.Subject ?? null, i.Message, Date.now());
    return { MessageId: id };
  }

  /** Published messages, oldest first. */
  messages(): PublishedMessage[] {
    const rows = this.store.db.prepare('SELECT * FROM sns_messages ORDER BY seq').all() as {
      id: string;
      topic_arn: string;
      subject: string | null;
      message: string;
      time_ms: number;
    }[];
    return rows.map((r) => ({
      messageId: r.id,
      topicArn: r.topic_arn,
      ...(r.subject ? { subject: r.subject } : {}),
      message: r.message,
      time: new Date(r.time_ms).toISOString(),
    }));
  }
}

/** SNS's query protocol (Action=Publish&TopicArn=...). */
export function snsQueryService(sns: Sns): QueryService {
  return {
    protocol: 'query',
    signingName: 'sns',
    // A message is at most 256 KiB; form encoding can triple it.
    maxRequestBytes: 1024 * 1024,
    xmlNamespace: 'http://sns.amazonaws.com/doc/2010-03-31/',
    actions: {
      CreateTopic: (p) => sns.createTopic(p['Name'] ?? ''),
      ListTopics: () => {
        const t = sns.listTopics();
        return { Topics: { member: t.Topics } };
      },
      Publish: (p) =>
        sns.publish({
          ...(p['TopicArn'] ? { TopicArn: p['TopicArn'] } : {}),
          ...(p['Message'] ? { Message: p['Message'] } : {}),
          ...(p['Subject'] ? { Subject: p['Subject'] } : {}),
        }),
    },
    statusFor: (e) => e.status,
  };
}

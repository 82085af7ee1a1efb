import type { Migration, Store } from '../store/db';

export interface MessageRow {
  id: string;
  topic_arn: string;
  subject: string | null;
  message: string;
  time_ms: number;
  /** MessageAttributes as JSON: `{"name": {"DataType": "String", "StringValue": "..."}}`. */
  attributes?: string | null;
}

const MIGRATIONS: Migration[] = [
  {
    id: '001-topics',
    up: `CREATE TABLE sns_topics (arn TEXT PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE sns_messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, topic_arn TEXT NOT NULL,
           subject TEXT, message TEXT NOT NULL, time_ms INTEGER NOT NULL);`,
  },
  { id: '002-message-attributes', up: 'ALTER TABLE sns_messages ADD COLUMN attributes TEXT;' },
];

/** SNS's tables (topics and the messages published to them) and every statement on them. */
export class SnsStore {
  constructor(private readonly store: Store) {
    store.migrate('sns', MIGRATIONS);
  }

  /** Creates the topic unless it exists (CreateTopic is idempotent). */
  addTopic(arn: string, name: string): void {
    this.store.sql('INSERT OR IGNORE INTO sns_topics (arn, name) VALUES (?, ?)').run(arn, name);
  }

  topicExists(arn: string): boolean {
    return this.store.sql('SELECT arn FROM sns_topics WHERE arn = ?').get(arn) !== undefined;
  }

  topicArns(): string[] {
    return (this.store.sql('SELECT arn FROM sns_topics ORDER BY arn').all() as { arn: string }[]).map(
      (r) => r.arn,
    );
  }

  addMessage(m: MessageRow): void {
    this.store
      .sql(
        'INSERT INTO sns_messages (id, topic_arn, subject, message, time_ms, attributes) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(m.id, m.topic_arn, m.subject, m.message, m.time_ms, m.attributes ?? null);
  }

  /** Every message, oldest first. */
  messages(): MessageRow[] {
    return this.store.sql('SELECT * FROM sns_messages ORDER BY seq').all() as MessageRow[];
  }
}

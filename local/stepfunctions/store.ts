import type { Migration, Store } from '../store/db';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface StateMachineRow {
  arn: string;
  name: string;
  definition: string;
  role_arn: string;
  created_ms: number;
  updated_ms: number;
}

export interface ExecutionRow {
  arn: string;
  sm_arn: string;
  name: string;
  status: ExecutionStatus;
  input: string;
  output: string | null;
  error: string | null;
  cause: string | null;
  start_ms: number;
  stop_ms: number | null;
  /** JSON of the execution's history: its first event from the start, all of them once stopped. */
  history: string | null;
}

/** How an execution ended, as stored with it. */
export interface ExecutionEnd {
  status: ExecutionStatus;
  output: string | null;
  error: string | null;
  cause: string | null;
  stopMs: number;
  history: string;
}

/** A Step Functions tag, as the API spells it (lower-case members). */
export interface Tag {
  key: string;
  value: string;
}

const MIGRATIONS: Migration[] = [
  {
    id: '001-state-machines',
    up: `CREATE TABLE sfn_state_machines (
      arn TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, definition TEXT NOT NULL, role_arn TEXT NOT NULL,
      created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
    CREATE TABLE sfn_executions (
      arn TEXT PRIMARY KEY, sm_arn TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
      input TEXT NOT NULL, output TEXT, error TEXT, cause TEXT,
      start_ms INTEGER NOT NULL, stop_ms INTEGER, history TEXT);
    CREATE INDEX sfn_executions_sm ON sfn_executions (sm_arn, start_ms);`,
  },
  {
    id: '002-tags',
    up: `CREATE TABLE sfn_tags (
      resource_arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
      PRIMARY KEY (resource_arn, key));`,
  },
  {
    // Events of RUNNING executions, one row each as the runner records them, so a crash keeps
    // what ran; a stopped execution's whole history moves into its row's `history` column.
    id: '003-history-events',
    up: `CREATE TABLE sfn_history_events (
      execution_arn TEXT NOT NULL, id INTEGER NOT NULL, event TEXT NOT NULL,
      PRIMARY KEY (execution_arn, id)) WITHOUT ROWID;`,
  },
];

/**
 * Step Functions' tables (state machines, executions with their history, tags) and every
 * statement on them. An execution costs its row when it starts, its history events as they
 * happen (appended in batches, one transaction per turn of the event loop), and one update when
 * it stops (the whole history moves into the row, its event rows go).
 */
export class StepFunctionsStore {
  constructor(private readonly store: Store) {
    store.migrate('stepfunctions', MIGRATIONS);
  }

  /** Runs `fn` in one transaction (nested calls become savepoints). */
  tx<T>(fn: () => T): T {
    return this.store.tx(fn);
  }

  // ------------------------------------------------------------------ state machines

  machine(arn: string): StateMachineRow | undefined {
    return this.store.sql('SELECT * FROM sfn_state_machines WHERE arn = ?').get(arn) as
      | StateMachineRow
      | undefined;
  }

  machines(): StateMachineRow[] {
    return this.store.sql('SELECT * FROM sfn_state_machines ORDER BY name').all() as StateMachineRow[];
  }

  insertMachine(m: StateMachineRow): void {
    this.store
      .sql('INSERT INTO sfn_state_machines VALUES (?, ?, ?, ?, ?, ?)')
      .run(m.arn, m.name, m.definition, m.role_arn, m.created_ms, m.updated_ms);
  }

  updateMachine(arn: string, definition: string, roleArn: string, updatedMs: number): void {
    this.store
      .sql('UPDATE sfn_state_machines SET definition = ?, role_arn = ?, updated_ms = ? WHERE arn = ?')
      .run(definition, roleArn, updatedMs, arn);
  }

  /** Deletes a machine and its tags; its executions stay, as on AWS. */
  deleteMachine(arn: string): void {
    this.store.sql('DELETE FROM sfn_state_machines WHERE arn = ?').run(arn);
    this.store.sql('DELETE FROM sfn_tags WHERE resource_arn = ?').run(arn);
  }

  // ------------------------------------------------------------------ executions

  execution(arn: string): ExecutionRow | undefined {
    return this.store.sql('SELECT * FROM sfn_executions WHERE arn = ?').get(arn) as ExecutionRow | undefined;
  }

  /** A new RUNNING execution, stored with the first event of its history. */
  insertExecution(
    arn: string,
    smArn: string,
    name: string,
    input: string,
    startMs: number,
    history: string,
  ): void {
    this.store
      .sql(
        "INSERT INTO sfn_executions (arn, sm_arn, name, status, input, start_ms, history) VALUES (?, ?, ?, 'RUNNING', ?, ?, ?)",
      )
      .run(arn, smArn, name, input, startMs, history);
  }

  finishExecution(arn: string, end: ExecutionEnd): void {
    this.store
      .sql(
        'UPDATE sfn_executions SET status = ?, output = ?, error = ?, cause = ?, stop_ms = ?, history = ? WHERE arn = ?',
      )
      .run(end.status, end.output, end.error, end.cause, end.stopMs, end.history, arn);
  }

  /** Appends history events of running executions (one transaction for the batch). */
  appendHistoryEvents(events: readonly { arn: string; id: number; event: string }[]): void {
    const insert = this.store.sql(
      'INSERT OR REPLACE INTO sfn_history_events (execution_arn, id, event) VALUES (?, ?, ?)',
    );
    this.store.tx(() => {
      for (const e of events) insert.run(e.arn, e.id, e.event);
    });
  }

  /** The events stored for an execution while it ran, in order (JSON text each). */
  historyEvents(arn: string): string[] {
    return (
      this.store.sql('SELECT event FROM sfn_history_events WHERE execution_arn = ? ORDER BY id').all(arn) as {
        event: string;
      }[]
    ).map((r) => r.event);
  }

  /** Drops a stopped execution's event rows (its history now lives in its row). */
  dropHistoryEvents(arn: string): void {
    this.store.sql('DELETE FROM sfn_history_events WHERE execution_arn = ?').run(arn);
  }

  /** A machine's executions, newest first, without input, output or history. */
  executionsOf(smArn: string, status: string | undefined): ExecutionRow[] {
    const columns = 'arn, sm_arn, name, status, start_ms, stop_ms';
    if (status === undefined) {
      return this.store
        .sql(`SELECT ${columns} FROM sfn_executions WHERE sm_arn = ? ORDER BY start_ms DESC, rowid DESC`)
        .all(smArn) as ExecutionRow[];
    }
    return this.store
      .sql(
        `SELECT ${columns} FROM sfn_executions WHERE sm_arn = ? AND status = ? ORDER BY start_ms DESC, rowid DESC`,
      )
      .all(smArn, status) as ExecutionRow[];
  }

  /** Every execution stored as RUNNING (after a crash: the ones it interrupted). */
  runningExecutions(): ExecutionRow[] {
    return this.store.sql("SELECT * FROM sfn_executions WHERE status = 'RUNNING'").all() as ExecutionRow[];
  }

  // ------------------------------------------------------------------ tags

  putTag(arn: string, t: Tag): void {
    this.store
      .sql(
        `INSERT INTO sfn_tags (resource_arn, key, value) VALUES (?, ?, ?)
         ON CONFLICT (resource_arn, key) DO UPDATE SET value = excluded.value`,
      )
      .run(arn, t.key, t.value);
  }

  deleteTag(arn: string, key: string): void {
    this.store.sql('DELETE FROM sfn_tags WHERE resource_arn = ? AND key = ?').run(arn, key);
  }

  tags(arn: string): Tag[] {
    return this.store
      .sql('SELECT key, value FROM sfn_tags WHERE resource_arn = ? ORDER BY key')
      .all(arn) as Tag[];
  }

  tagValue(arn: string, key: string): string | undefined {
    return (
      this.store.sql('SELECT value FROM sfn_tags WHERE resource_arn = ? AND key = ?').get(arn, key) as
        | { value: string }
        | undefined
    )?.value;
  }
}

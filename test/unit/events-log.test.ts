import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type AwsEvent, EventLog, REDELIVERY_WINDOW_MS } from '../../local/events/log';
import { silentLogger } from '../../local/log';
import { Store } from '../../local/store/db';

let dir: string;
let store: Store;
let log: EventLog;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'credflow-events-'));
  store = Store.open(dir);
  log = new EventLog(store, { region: 'us-east-1', accountId: '000000000000' }, silentLogger);
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('EventLog', () => {
  it('fills in the EventBridge envelope', () => {
    const e = log.publish({
      source: 'credflow',
      'detail-type': 'RotationVerified',
      detail: { secretId: 'x' },
    });
    expect(e).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      'detail-type': 'RotationVerified',
      source: 'credflow',
      account: '000000000000',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      region: 'us-east-1',
      resources: [],
      detail: { secretId: 'x' },
    });
  });

  it('lists by source, detail-type and time, oldest first, and survives a reopen', () => {
    log.publish({ source: 'a', 'detail-type': 'One', detail: {}, time: '2024-01-01T00:00:00Z' });
    log.publish({ source: 'b', 'detail-type': 'Two', detail: {}, time: '2024-01-02T00:00:00Z' });
    log.publish({ source: 'a', 'detail-type': 'Two', detail: {}, time: '2024-01-03T00:00:00Z' });
    const kinds = (events: AwsEvent[]) => events.map((e) => `${e.source}:${e['detail-type']}`);
    expect(kinds(log.list())).toEqual(['a:One', 'b:Two', 'a:Two']);
    expect(kinds(log.list({ source: 'a' }))).toEqual(['a:One', 'a:Two']);
    expect(kinds(log.list({ detailType: 'Two' }))).toEqual(['b:Two', 'a:Two']);
    expect(kinds(log.list({ since: new Date('2024-01-02T00:00:00Z') }))).toEqual(['b:Two', 'a:Two']);
    store.close();
    store = Store.open(dir);
    log = new EventLog(store, { region: 'us-east-1', accountId: '000000000000' }, silentLogger);
    expect(log.list()).toHaveLength(3);
  });

  it('delivers to subscribers after publishing, in order, until they unsubscribe', async () => {
    const got: string[] = [];
    const off = log.subscribe((e) => {
      got.push(e['detail-type']);
    });
    log.subscribe(() => {
      throw new Error('a broken subscriber does not stop the others');
    });
    log.publish({ source: 's', 'detail-type': 'First', detail: {} });
    log.publish({ source: 's', 'detail-type': 'Second', detail: {} });
    expect(got).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual(['First', 'Second']);
    off();
    log.publish({ source: 's', 'detail-type': 'Third', detail: {} });
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual(['First', 'Second']);
  });
});

describe('EventLog delivery to the rules engine', () => {
  const reopen = () => {
    store.close();
    store = Store.open(dir);
    log = new EventLog(store, { region: 'us-east-1', accountId: '000000000000' }, silentLogger);
  };

  it('hands every event over once, in order, after the publishing call', async () => {
    const got: string[] = [];
    log.deliverTo((e) => {
      got.push(e['detail-type']);
    });
    log.publish({ source: 's', 'detail-type': 'A', detail: {} });
    log.publish({ source: 's', 'detail-type': 'B', detail: {} });
    expect(got).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual(['A', 'B']);
    reopen();
    log.deliverTo((e) => {
      got.push(e['detail-type']);
    });
    expect(log.redeliverPending()).toBe(0);
  });

  it('redelivers after a restart what the consumer never took (it threw, or the process died first)', async () => {
    log.deliverTo(() => {
      throw new Error('rules engine down');
    });
    log.publish({ source: 's', 'detail-type': 'Refused', detail: {} });
    await new Promise((r) => setImmediate(r));
    // Stored, and the process dies before any delivery.
    log.publish({ source: 's', 'detail-type': 'Unsent', detail: {} });
    reopen();
    const got: string[] = [];
    log.deliverTo((e) => {
      got.push(e['detail-type']);
    });
    // New events wait behind the backlog.
    log.publish({ source: 's', 'detail-type': 'New', detail: {} });
    expect(log.redeliverPending()).toBe(2);
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual(['Refused', 'Unsent', 'New']);
    reopen();
    log.deliverTo(() => {});
    expect(log.redeliverPending()).toBe(0);
  });

  it('drops what is older than EventBridge retries (24 hours)', () => {
    log.publish({ source: 's', 'detail-type': 'Old', detail: {} });
    reopen();
    log.deliverTo(() => {});
    expect(log.redeliverPending(undefined, Date.now() + REDELIVERY_WINDOW_MS + 1)).toBe(0);
    expect(log.redeliverPending()).toBe(0);
  });
});

describe('Store', () => {
  it('uses WAL with synchronous=NORMAL (kill -9 safe: see the crash test) and applies each migration once', () => {
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('synchronous', { simple: true })).toBe(1);
    const migrations = [{ id: '001', up: 'CREATE TABLE t (x INTEGER)' }];
    store.migrate('test', migrations);
    store.migrate('test', migrations);
    store.migrate('test', [...migrations, { id: '002', up: (db) => db.exec('INSERT INTO t VALUES (1)') }]);
    expect(store.db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 1 });
  });

  it('rolls a failed transaction back whole', () => {
    store.migrate('test', [{ id: '001', up: 'CREATE TABLE t (x INTEGER UNIQUE)' }]);
    expect(() =>
      store.tx(() => {
        store.db.prepare('INSERT INTO t VALUES (1)').run();
        store.db.prepare('INSERT INTO t VALUES (1)').run();
      }),
    ).toThrow();
    expect(store.db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 0 });
  });
});

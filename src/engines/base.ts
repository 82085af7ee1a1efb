/**
 * The session skeleton both engines share: connect with AWS's TLS preference, run one callback,
 * always close, and translate every driver failure into the typed errors the state machines
 * Retry and Catch on, with every secret of the session redacted from the message. An engine
 * supplies only how its driver opens, closes and names its failures.
 */
import {
  AuthenticationError,
  CredflowError,
  DatabaseError,
  TransientError,
  ValidationError,
} from '../errors';
import {
  assertNotSystemAccount,
  checkPassword,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_QUERY_TIMEOUT_MS,
  type EngineOptions,
  isLoopback,
  redact,
  translateNodeError,
} from './common';
import type { Credentials } from './types';

/** Sees the text of each statement an engine sends; see observeStatements. */
export type StatementObserver = (engine: string, sql: string) => void;

let observer: StatementObserver | undefined;

/**
 * For tests: `fn` sees the text of every statement either engine sends from now on (undefined
 * stops it). The shadow test derives from it the function and operator names a database user
 * must not be able to shadow, so a query added later is checked without anyone listing it. The
 * text holds the passwords that DDL carries as literals: never install one outside tests.
 */
export function observeStatements(fn: StatementObserver | undefined): void {
  observer = fn;
}

/** What every engine session carries for error messages. */
export interface SessionBase {
  /** `postgres host:port`, `mysql host:port`: the prefix of every message. */
  where: string;
  /** Strings that must never appear in an error message from this session. */
  secrets: readonly string[];
}

/** A driver failure, read as the engine's driver reports it. */
export interface DriverFailure {
  code?: string | undefined;
  errno?: number | undefined;
  sqlState?: string | undefined;
  message?: string | undefined;
}

/**
 * How an engine reads one of its driver's failures. `no-tls`: the server offers no TLS;
 * `tls-only`: the server refuses a connection without TLS (RDS for PostgreSQL 15+ by default).
 */
export type FailureKind = 'auth' | 'transient' | 'syntax' | 'no-tls' | 'tls-only' | undefined;

export abstract class SqlEngine<S extends SessionBase> {
  protected readonly connectTimeoutMs: number;
  protected readonly queryTimeoutMs: number;
  /** The family name in messages (`postgres`, `mysql`). */
  protected abstract readonly label: string;

  constructor(protected readonly options: EngineOptions = {}) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.queryTimeoutMs = options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  }

  abstract validateUsername(username: string): void;

  /** Opens a driver session, with or without TLS; throws the driver's own error. */
  protected abstract open(creds: Credentials, tls: boolean, base: SessionBase): Promise<S>;
  /** Closes a session; never throws, never waits on a dead connection. */
  protected abstract close(session: S): Promise<void>;
  /** What a driver failure means; undefined: a plain database error. */
  protected abstract classify(failure: DriverFailure): FailureKind;
  /** The escaped forms a secret may take in this driver's messages (quoted literals...). */
  protected abstract readonly escapes: readonly ((secret: string) => string)[];

  /**
   * Connects with AWS's templates' `ssl` key: true requires TLS, false never uses it. Undefined
   * tries TLS and, unlike the templates, falls back to plain only on loopback (the local cloud's
   * own servers): RDS always offers TLS, so a server elsewhere that answers "no TLS" is not the
   * database the secret means, or a downgrade, and the session is refused unless the secret says
   * `ssl: false`. A certificate that fails to verify is an error, never a reason to drop TLS.
   */
  protected async connect(creds: Credentials, secrets: readonly string[]): Promise<S> {
    const base: SessionBase = { where: `${this.label} ${creds.host}:${creds.port}`, secrets };
    try {
      if (creds.ssl === false) return await this.open(creds, false, base);
      try {
        return await this.open(creds, true, base);
      } catch (err) {
        if (this.classify(err as DriverFailure) !== 'no-tls') throw err;
        if (creds.ssl === true) throw this.tlsRequired(base.where);
        if (!isLoopback(creds.host)) throw this.plainRefused(base.where);
        return await this.open(creds, false, base);
      }
    } catch (err) {
      throw this.translate(err, base.where, `log in as ${JSON.stringify(creds.username)}`, secrets);
    }
  }

  /** Called by an engine with each statement's text just before it sends it. */
  protected sending(sql: string): void {
    observer?.(this.label, sql);
  }

  /** Runs `fn` in one session as `creds`, closing it whatever happens. */
  protected async withSession<T>(
    creds: Credentials,
    secrets: readonly string[],
    fn: (s: S) => Promise<T>,
  ): Promise<T> {
    const session = await this.connect(creds, secrets);
    try {
      return await fn(session);
    } finally {
      await this.close(session);
    }
  }

  private tlsRequired(where: string): DatabaseError {
    return new DatabaseError(`${where}: TLS is required (ssl: true) but the server does not offer it`);
  }

  private plainRefused(where: string): DatabaseError {
    return new DatabaseError(
      `${where}: the server offers no TLS; off loopback credflow connects without TLS only when ` +
        'the secret says ssl: false (RDS always offers TLS: is this the database endpoint?)',
    );
  }

  /** A driver failure as a typed error, every secret of the session redacted from its text. */
  protected translate(
    err: unknown,
    where: string,
    action: string,
    secrets: readonly string[],
  ): CredflowError {
    if (err instanceof CredflowError) return err;
    const e = (err ?? {}) as DriverFailure;
    const message = redact(typeof e.message === 'string' ? e.message : String(err), secrets, this.escapes);
    const cause = { code: e.code, errno: e.errno, sqlState: e.sqlState };
    const id = e.code ? ` (${e.code}${e.errno ? ` ${e.errno}` : ''})` : '';
    const detail = `${where}: ${action} failed: ${message}${id}`;
    const kind = this.classify(e);
    if (kind === 'auth') return new AuthenticationError(detail, { cause });
    if (kind === 'no-tls') return this.tlsRequired(where);
    if (kind === 'tls-only') {
      return new DatabaseError(
        `${where}: the server accepts only TLS connections (as RDS for PostgreSQL 15 and later does, rds.force_ssl) and the secret says ssl: false`,
        { cause },
      );
    }
    const network = translateNodeError(e.code, `${where}: ${action}`, message);
    if (network) return network;
    if (kind === 'transient') return new TransientError(detail, { cause });
    if (kind === 'syntax' && secrets.length > 1) {
      // A syntax error quotes the statement; a session with a second secret sends a password.
      return new DatabaseError(`${where}: ${action} failed: SQL syntax error (statement withheld)`, {
        cause,
      });
    }
    return new DatabaseError(detail, { cause });
  }

  /** cloneUser's checks, before any SQL: both names managed, a usable password, two users. */
  protected validateClone(admin: Credentials, sourceName: string, cloneName: string, password: string): void {
    this.validateManaged(admin, sourceName);
    this.validateManaged(admin, cloneName);
    checkPassword(password);
    if (sourceName === cloneName) throw new ValidationError('a user cannot be cloned onto itself');
  }

  /**
   * The checks made before any change to a user, without SQL: a valid name, not a system or RDS
   * account, not the admin itself.
   */
  protected validateManaged(admin: Credentials, username: string): void {
    this.validateUsername(username);
    assertNotSystemAccount(username);
    if (username === admin.username) {
      throw new ValidationError(`username ${JSON.stringify(username)} is the admin's own account`);
    }
  }
}

import { LocalCloudError } from '../errors';
import { FunctionThread, type ModuleSource } from './threads';
import { lambdaContext } from './worker-protocol';

export type LambdaHandler = (event: unknown, context?: unknown) => Promise<unknown>;

/**
 * The context a local function receives: Lambda's usual fields plus `env`, the function's own
 * environment. The registry never swaps `process.env` around a call: handlers run in this one
 * process, concurrently, so a per-call environment would leak between them. A handler that
 * needs its settings reads `context.env` (or the process defaults its host set up).
 */
export interface LocalLambdaContext {
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
  env: Readonly<Record<string, string>>;
}

export interface RegisterOptions {
  /** Lambda's timeout; the call is failed (not aborted) after it. Default 900 s. */
  timeoutSeconds?: number;
  /**
   * Other names the function answers to (its serverless key beside the deployed
   * `credflow-<stage>-<key>`); ARNs and events always carry the function's own name.
   */
  aliases?: readonly string[];
}

export interface RegisterModuleOptions extends RegisterOptions {
  /** Lambda's memory setting (MB): the thread's heap limit and the context's memoryLimitInMB. Default 1024. */
  memoryMb?: number;
  /** How long an idle function's thread lives before it ends (default 5 minutes; 0 = until stopped). */
  idleMs?: number;
}

/** No function by that name or ARN is registered. */
export class LambdaNotFoundError extends LocalCloudError {
  override name = 'ResourceNotFoundException' as const;
}

/** The function ran past its timeout. */
export class LambdaTimeoutError extends LocalCloudError {
  override name = 'TimeoutError' as const;
}

interface Entry {
  name: string;
  env: Readonly<Record<string, string>>;
  timeoutMs: number;
  /** A handler in this thread (tests' stand-ins), or undefined when the function has its own thread. */
  handler?: LambdaHandler;
  thread?: FunctionThread;
}

/**
 * "Lambda" for the local cloud: functions registered by name, invoked with a JSON round trip of
 * event and result, as the real service serializes them. A function registered by its module
 * (`registerModule`, what the deployer does) runs on its own worker thread with its own
 * environment, as Lambda runs each function in its own sandbox; one registered as a closure
 * (`register`, tests' stand-ins) runs on the caller's thread.
 */
export class LambdaRegistry {
  private readonly fns = new Map<string, Entry>();
  /** alias -> the function's own name. */
  private readonly aliases = new Map<string, string>();

  constructor(private readonly where: { region: string; accountId: string }) {}

  /**
   * Registers (or replaces) a function; returns its ARN. Registering under an alias replaces the
   * function the alias names (a test swapping `setSecret` swaps `credflow-<stage>-setSecret`).
   */
  register(
    name: string,
    handler: LambdaHandler,
    env: Record<string, string> = {},
    opts: RegisterOptions = {},
  ): string {
    return this.put(name, { handler }, env, opts);
  }

  /**
   * Registers (or replaces) a function by its code: the module is loaded on the function's own
   * worker thread at its first call, with process.env there set to `env`, Lambda's reserved
   * variables and what the runtime needs (never this process's whole environment).
   */
  registerModule(
    name: string,
    source: ModuleSource,
    env: Record<string, string> = {},
    opts: RegisterModuleOptions = {},
  ): string {
    const own = this.aliases.get(name) ?? name;
    const memoryMb = opts.memoryMb ?? 1024;
    const thread = new FunctionThread(
      // Only what the thread needs crosses to it (a catalog entry carries much more).
      {
        modulePath: source.modulePath,
        exportName: source.exportName,
        functionName: own,
        arn: this.arn(own),
        memoryMb,
      },
      { env: { ...env }, region: this.where.region, idleMs: opts.idleMs ?? 5 * 60_000 },
    );
    return this.put(name, { thread }, env, opts);
  }

  private put(
    name: string,
    run: Pick<Entry, 'handler' | 'thread'>,
    env: Record<string, string>,
    opts: RegisterOptions,
  ): string {
    const own = this.aliases.get(name) ?? name;
    for (const n of [own, ...(opts.aliases ?? [])]) {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(n)) throw new Error(`invalid Lambda function name: ${n}`);
    }
    void this.fns.get(own)?.thread?.stop();
    this.fns.set(own, {
      name: own,
      ...run,
      env: Object.freeze({ ...env }),
      timeoutMs: (opts.timeoutSeconds ?? 900) * 1000,
    });
    for (const alias of opts.aliases ?? []) if (alias !== own) this.aliases.set(alias, own);
    return this.arn(own);
  }

  unregister(name: string): boolean {
    const own = this.aliases.get(name) ?? name;
    for (const [alias, target] of this.aliases) if (target === own) this.aliases.delete(alias);
    void this.fns.get(own)?.thread?.stop();
    return this.fns.delete(own);
  }

  /** Ends every function's thread (calls in flight fail); the cloud's stop calls this last. */
  async stop(): Promise<void> {
    await Promise.all([...this.fns.values()].map((f) => f.thread?.stop()));
  }

  /** Functions whose thread is running now, and cold starts so far, by function name. */
  threads(): { name: string; running: boolean; starts: number }[] {
    return [...this.fns.values()]
      .filter((f) => f.thread)
      .map((f) => ({ name: f.name, running: f.thread?.running ?? false, starts: f.thread?.starts ?? 0 }));
  }

  /** The ARN of a function by its name or an alias (always the function's own name). */
  arn(name: string): string {
    return `arn:aws:lambda:${this.where.region}:${this.where.accountId}:function:${this.aliases.get(name) ?? name}`;
  }

  /** Registered function names. */
  list(): string[] {
    return [...this.fns.keys()];
  }

  /** The registered name for a name, full ARN (optionally qualified) or partial ARN; undefined if none. */
  resolve(arnOrName: string): string | undefined {
    let name = arnOrName;
    const full = /^arn:aws:lambda:([^:]+):(\d{12}):function:([^:]+)(?::(\$LATEST|[A-Za-z0-9_-]+))?$/.exec(
      arnOrName,
    );
    const partial = /^(\d{12}):function:([^:]+)(?::(\$LATEST|[A-Za-z0-9_-]+))?$/.exec(arnOrName);
    if (full) {
      if (full[1] !== this.where.region || full[2] !== this.where.accountId) return undefined;
      name = full[3]!;
    } else if (partial) {
      if (partial[1] !== this.where.accountId) return undefined;
      name = partial[2]!;
    } else {
      name = arnOrName.split(':')[0]!;
    }
    const own = this.aliases.get(name) ?? name;
    return this.fns.has(own) ? own : undefined;
  }

  has(arnOrName: string): boolean {
    return this.resolve(arnOrName) !== undefined;
  }

  /** Invokes the function and resolves with its (JSON round-tripped) result; rejects with its error. */
  async invoke(arnOrName: string, event: unknown): Promise<unknown> {
    const name = this.resolve(arnOrName);
    const fn = name === undefined ? undefined : this.fns.get(name);
    if (!fn) throw new LambdaNotFoundError(`Function not found: ${arnOrName}`);
    const started = Date.now();
    const run = (): Promise<unknown> => {
      if (fn.thread) return fn.thread.invoke(event ?? null, started + fn.timeoutMs);
      return this.inline(fn, fn.handler as LambdaHandler, event, started);
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new LambdaTimeoutError(`Task timed out after ${(fn.timeoutMs / 1000).toFixed(2)} seconds`)),
        fn.timeoutMs,
      );
      timer.unref();
    });
    try {
      return await Promise.race([run(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async inline(fn: Entry, handler: LambdaHandler, event: unknown, started: number): Promise<unknown> {
    const context = lambdaContext(
      { functionName: fn.name, arn: this.arn(fn.name), memoryMb: 1024 },
      started + fn.timeoutMs,
      fn.env,
    );
    const payload = event === undefined ? undefined : JSON.parse(JSON.stringify(event));
    const result = await handler(payload, context);
    return result === undefined ? null : JSON.parse(JSON.stringify(result));
  }
}

import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { lambdaEnvironment } from './environment';
import { reviveError, type WorkerInit, type WorkerReply } from './worker-protocol';

/** Where a function's code is: its module (without extension) and the handler it exports. */
export interface ModuleSource {
  modulePath: string;
  exportName: string;
}

export interface FunctionThreadOptions {
  /**
   * The function's own variables. The thread's process.env is these plus Lambda's reserved
   * variables and what the runtime needs (lambdaEnvironment), read from the host when the thread
   * starts; never the host's whole environment.
   */
  env: Readonly<Record<string, string>>;
  /** The region the function runs in (AWS_REGION). */
  region: string;
  /** A thread with no call for this long ends (a cold start next time), as Lambda retires idle sandboxes. */
  idleMs: number;
}

interface Waiting {
  resolve(result: string): void;
  reject(err: Error): void;
}

/** The thread's entry: compiled JS when running from `dist`, else the TypeScript source through a transpiling hook. */
function entry(): { file: string; eval: boolean } {
  const js = path.join(__dirname, 'worker-main.js');
  if (existsSync(js)) return { file: js, eval: false };
  const ts = path.join(__dirname, 'worker-main.ts');
  // Tests run from source, with no build: the thread transpiles each .ts module as it is required
  // (types are not checked here; `npm run typecheck` does that), keeping the output in a cache
  // keyed by path, size and mtime, so the threads after the first start without TypeScript.
  const typescript = require.resolve('typescript');
  const cache = path.join(path.dirname(path.dirname(typescript)), '..', '.cache', 'credflow-ts');
  const source = `
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const cacheDir = ${JSON.stringify(cache)};
let ts;
if (!require.extensions['.ts']) {
  require.extensions['.ts'] = (module, filename) => {
    const st = fs.statSync(filename);
    const key = crypto.createHash('sha256').update(filename + ':' + st.size + ':' + st.mtimeMs).digest('hex');
    const cached = path.join(cacheDir, key + '.js');
    let out;
    try { out = fs.readFileSync(cached, 'utf8'); } catch {
      ts ??= require(${JSON.stringify(typescript)});
      out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
        fileName: filename,
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, inlineSourceMap: true },
      }).outputText;
      try {
        fs.mkdirSync(cacheDir, { recursive: true });
        const tmp = cached + '.' + process.pid + '.' + Math.random().toString(36).slice(2);
        fs.writeFileSync(tmp, out);
        fs.renameSync(tmp, cached);
      } catch {}
    }
    module._compile(out, filename);
  };
}
require(${JSON.stringify(ts)});
`;
  return { file: source, eval: true };
}

/**
 * One local Lambda function on its own worker thread, as Lambda runs each function in its own
 * sandbox: its own module state, its own SDK clients and connection pools, its own process.env.
 * The thread starts at the first call (the cold start) and serves the function's calls
 * concurrently after that; if it dies (an uncaught error, process.exit, out of memory), the calls
 * in flight fail with Lambda's runtime error names and the next call starts a new one.
 */
export class FunctionThread {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Threads started so far (cold starts). */
  starts = 0;

  constructor(
    private readonly init: WorkerInit,
    private readonly opts: FunctionThreadOptions,
  ) {}

  /** Calls the handler with the event (JSON-serialized across) and resolves with its parsed result. */
  async invoke(event: unknown, deadline: number): Promise<unknown> {
    const worker = this.start();
    const id = this.nextId++;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const text = await new Promise<string>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, event: JSON.stringify(event) ?? 'null', deadline });
    });
    return JSON.parse(text);
  }

  /** Ends the thread (calls in flight fail). */
  async stop(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const w = this.worker;
    this.worker = undefined;
    if (w) {
      this.failAll('Runtime.ExitError', 'the function was stopped');
      await w.terminate();
    }
  }

  /** Is a thread running now? */
  get running(): boolean {
    return this.worker !== undefined;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const { file, eval: isEval } = entry();
    const worker = new Worker(file, {
      eval: isEval,
      workerData: this.init,
      env: lambdaEnvironment(
        { functionName: this.init.functionName, memoryMb: this.init.memoryMb, region: this.opts.region },
        this.opts.env,
      ),
      // Lambda's memory setting bounds the heap; past it the sandbox dies (Runtime.OutOfMemory).
      resourceLimits: { maxOldGenerationSizeMb: Math.max(64, this.init.memoryMb) },
    });
    this.starts += 1;
    this.worker = worker;
    worker.on('message', (msg: WorkerReply) => {
      const w = this.waiting.get(msg.id);
      if (!w) return;
      this.settled(msg.id);
      if (msg.ok) w.resolve(msg.result);
      else w.reject(reviveError(msg.error));
    });
    worker.on('error', (err: Error & { code?: string }) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      const oom = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.failAll(
        oom ? 'Runtime.OutOfMemory' : 'Runtime.ExitError',
        `${oom ? 'out of memory' : 'the function crashed'}: ${err.message}`,
      );
    });
    worker.on('exit', (code) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failAll('Runtime.ExitError', `the function exited (status ${code}) before answering`);
    });
    // A function's thread never keeps the process alive, not even with a call in flight: the
    // cloud's endpoint does that, and a cloud dropped without stop() (a crash in a test) must not
    // leave a thread holding the process open forever.
    worker.unref();
    return worker;
  }

  private settled(id: number): void {
    this.waiting.delete(id);
    if (this.waiting.size > 0) return;
    const worker = this.worker;
    if (worker && this.opts.idleMs > 0) {
      this.idleTimer = setTimeout(() => {
        if (this.worker === worker && this.waiting.size === 0) {
          this.worker = undefined;
          void worker.terminate();
        }
      }, this.opts.idleMs);
      this.idleTimer.unref();
    }
  }

  private failAll(name: string, message: string): void {
    const all = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of all) {
      const err = new Error(message);
      err.name = name;
      w.reject(err);
    }
  }
}

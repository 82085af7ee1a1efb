/**
 * The inside of one local Lambda function's worker thread: loads the function's module once (its
 * "init", as a Lambda container does), then answers invoke messages from the local cloud's
 * thread. process.env here is the function's own environment, set when the thread was made.
 *
 * Messages: in `{ id, event, deadline }` (event as JSON text, deadline in epoch ms); out
 * `{ id, ok: true, result }` (JSON text) or `{ id, ok: false, error }`. A module that fails to
 * load answers every call with that error, as a Lambda function whose init failed does.
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  lambdaContext,
  type SerializedError,
  serializeError,
  type WorkerInit,
  type WorkerReply,
} from './worker-protocol';

// The SDK warns once per thread that its 2027 releases need Node 22 (Lambda runs nodejs24.x, so
// the warning says nothing about the deployed functions); one copy per function thread buried
// test and benchmark output. The variable is read when the first client sends.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const init = workerData as WorkerInit;
const port = parentPort;
if (!port) throw new Error('worker-main runs in a worker thread');

function load(): (event: unknown, context?: unknown) => unknown {
  // biome-ignore lint/suspicious/noExplicitAny: a module loaded by path has no static type
  const mod = require(init.modulePath) as Record<string, any>;
  const handler = mod[init.exportName];
  if (typeof handler !== 'function') {
    const err = new Error(`${init.modulePath} exports no function ${init.exportName}`);
    err.name = 'Runtime.HandlerNotFound';
    throw err;
  }
  return handler;
}

let loaded: { handler: (event: unknown, context?: unknown) => unknown } | { error: SerializedError };
try {
  loaded = { handler: load() };
} catch (err) {
  loaded = { error: serializeError(err, 'Runtime.ImportModuleError') };
}

const env = Object.freeze({ ...process.env }) as Readonly<Record<string, string>>;

port.on('message', async (msg: { id: number; event: string; deadline: number }) => {
  const reply = (r: WorkerReply) => port.postMessage(r);
  if ('error' in loaded) {
    reply({ id: msg.id, ok: false, error: loaded.error });
    return;
  }
  const context = lambdaContext(init, msg.deadline, env);
  try {
    const result = await loaded.handler(JSON.parse(msg.event), context);
    reply({ id: msg.id, ok: true, result: result === undefined ? 'null' : JSON.stringify(result) });
  } catch (err) {
    reply({ id: msg.id, ok: false, error: serializeError(err) });
  }
});

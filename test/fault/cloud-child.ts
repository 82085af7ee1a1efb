/**
 * A local cloud in its own process, for fault tests that kill it with SIGKILL. Prints one JSON
 * line when ready.
 * - CREDFLOW_FAULT_SLOW_STATE=<lambda>:<ms> delays that Lambda, so a test can kill the process
 *   between two known steps.
 * - CREDFLOW_CHAOS_DELAY_MS=<ms> (with CREDFLOW_CHAOS_SEED=<n>): every Lambda call waits a random
 *   share of <ms> before its handler and the rest after it, so a kill lands inside steps (the
 *   work done, its result not yet recorded) as well as between them; each handler start is
 *   announced as a line `{"call": <n>, "fn": <key>}` so a test can kill at the n-th call
 *   whatever the machine's speed.
 * - `--warm`: loads every module, prints {"warm":true} and boots only when a line arrives on
 *   stdin: a spare that takes over the moment the previous cloud is killed, without the seconds
 *   of module loading.
 */
import { bootLocalCloud } from '../../local/boot';
import { loadCatalog, loadHandler } from '../../local/catalog';
import { prng } from './chaos-plan';

async function main(): Promise<void> {
  const stateDir = process.argv[2];
  if (!stateDir) throw new Error('usage: cloud-child.ts <stateDir> [--warm]');
  const functions = loadCatalog().functions;
  if (process.argv.includes('--warm')) {
    for (const fn of functions) loadHandler(fn);
    // A test runner that dies leaves no cloud behind: its end of the pipe closes, this process goes.
    process.stdin.on('end', () => process.exit(0));
    process.stdout.write(`${JSON.stringify({ warm: true })}\n`);
    await new Promise((resolve) => process.stdin.once('data', resolve));
  }
  const cloud = await bootLocalCloud({ stateDir, port: 0 });
  const slow = process.env['CREDFLOW_FAULT_SLOW_STATE'];
  if (slow) {
    const [name, ms] = slow.split(':');
    const fn = functions.find((f) => f.key === name);
    if (!fn) throw new Error(`no function ${name}`);
    const handler = loadHandler(fn);
    cloud.lambdas.register(fn.key, async (e: unknown) => {
      await new Promise((r) => setTimeout(r, Number(ms)));
      return handler(e);
    });
  }
  const chaosMs = Number(process.env['CREDFLOW_CHAOS_DELAY_MS'] ?? 0);
  if (chaosMs > 0) {
    const random = prng(Number(process.env['CREDFLOW_CHAOS_SEED'] ?? 1));
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    let calls = 0;
    for (const fn of functions) {
      const handler = loadHandler(fn);
      cloud.lambdas.register(
        fn.key,
        async (e: unknown, context?: unknown) => {
          const before = Math.floor(random() * chaosMs);
          await sleep(before);
          process.stdout.write(`${JSON.stringify({ call: ++calls, fn: fn.key })}\n`);
          const out = await handler(e, context);
          await sleep(chaosMs - before);
          return out;
        },
        {},
        { timeoutSeconds: fn.timeoutSeconds },
      );
    }
  }
  process.stdout.write(`${JSON.stringify({ ready: true, ...cloud.clientConfig() })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`cloud-child failed: ${(err as Error).stack}\n`);
  process.exit(1);
});

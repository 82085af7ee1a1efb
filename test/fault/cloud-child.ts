/**
 * A local cloud in its own process, for fault tests that kill it with SIGKILL. Prints one JSON
 * line when ready. CREDFLOW_FAULT_SLOW_STATE=<lambda>:<ms> delays that Lambda, so a test can kill
 * the process between two known steps.
 */
import { bootLocalCloud } from '../../local/boot';
import { loadCatalog, loadHandler } from '../../local/catalog';

async function main(): Promise<void> {
  const stateDir = process.argv[2];
  if (!stateDir) throw new Error('usage: cloud-child.ts <stateDir>');
  const cloud = await bootLocalCloud({ stateDir, port: 0 });
  const slow = process.env['CREDFLOW_FAULT_SLOW_STATE'];
  if (slow) {
    const [name, ms] = slow.split(':');
    const fn = loadCatalog().functions.find((f) => f.key === name);
    if (!fn) throw new Error(`no function ${name}`);
    const handler = loadHandler(fn);
    cloud.lambdas.register(fn.key, async (e: unknown) => {
      await new Promise((r) => setTimeout(r, Number(ms)));
      return handler(e);
    });
  }
  process.stdout.write(`${JSON.stringify({ ready: true, ...cloud.clientConfig() })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`cloud-child failed: ${(err as Error).stack}\n`);
  process.exit(1);
});

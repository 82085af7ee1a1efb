/**
 * rotate-fleet with AWS's quotas on: many secrets over several instances of both engines, every
 * strategy, at the default write budget. The target is the budget-bound rate (budget / writes per
 * rotation): how close the fleet gets, and that throttling never surfaces as a failure.
 */
import { GetExecutionHistoryCommand, type HistoryEvent, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { workflowArn } from '../cli/context';
import { runWorkflow } from '../cli/run';
import { quotasOn } from '../local/quotas';
import { DEFAULT_WRITE_BUDGET, WRITES_PER_ROTATION } from '../src/lifecycle/fleet-pacing';
import type { FleetSummary } from '../src/lifecycle/fleet-tally';
import { ENGINES, environment, f1, makeUser, STRATEGIES, storeBytes } from './env';

/** Every event of an execution, page by page. */
async function historyOf(env: Awaited<ReturnType<typeof environment>>, executionArn: string) {
  const events: HistoryEvent[] = [];
  let token: string | undefined;
  do {
    const out = await env.clients.sfn.send(
      new GetExecutionHistoryCommand({
        executionArn,
        maxResults: 1000,
        ...(token ? { nextToken: token } : {}),
      }),
    );
    events.push(...(out.events ?? []));
    token = out.nextToken;
  } while (token);
  return events;
}

/** The largest state input/output any event of the run carried (bytes), and the longest history. */
async function payloadsAndHistories(env: Awaited<ReturnType<typeof environment>>) {
  let largest = 0;
  let longest = 0;
  let executions = 0;
  for (const w of ['rotate-fleet', 'rotate-fleet-page'] as const) {
    const list = await env.clients.sfn.send(
      new ListExecutionsCommand({ stateMachineArn: await workflowArn(env.conn, w), maxResults: 1000 }),
    );
    for (const e of list.executions ?? []) {
      executions++;
      const events = await historyOf(env, e.executionArn as string);
      longest = Math.max(longest, events.length);
      for (const ev of events) {
        const text =
          ev.stateEnteredEventDetails?.input ??
          ev.stateExitedEventDetails?.output ??
          ev.taskSucceededEventDetails?.output ??
          ev.lambdaFunctionSucceededEventDetails?.output ??
          '';
        largest = Math.max(largest, Buffer.byteLength(text));
      }
    }
  }
  return { largest, longest, executions };
}

export async function benchFleetQuotas(total: number, instancesPerEngine: number): Promise<void> {
  const instances = ENGINES.flatMap((engine) =>
    Array.from({ length: instancesPerEngine }, (_, i) => ({
      id: `q-${engine === 'postgres' ? 'pg' : 'my'}${i + 1}`,
      engine,
    })),
  );
  const budgetRate = DEFAULT_WRITE_BUDGET / WRITES_PER_ROTATION;
  console.log(
    `\n## Fleet with AWS's quotas on (${total} secrets over ${instances.length} instances, both engines, all strategies; default budget ${DEFAULT_WRITE_BUDGET} writes/s = ${f1(budgetRate)} rotations/s)\n`,
  );
  // Set-up makes secrets faster than CreateSecret's 50/s: rates on only for the run itself.
  const quotas = { ...quotasOn(), rates: false };
  const env = await environment(instances, quotas);
  try {
    const t0 = performance.now();
    await Promise.all(
      instances.map(async (inst, k) => {
        for (let i = k; i < total; i += instances.length) {
          await makeUser(
            env,
            inst.id,
            inst.engine,
            `q${i}`,
            STRATEGIES[i % 3] as (typeof STRATEGIES)[number],
            [{ Key: 'bench', Value: 'quotas' }],
          );
        }
      }),
    );
    console.log(`set-up: ${total} users and secrets in ${f1((performance.now() - t0) / 1000)} s\n`);
    quotas.rates = true;
    const t1 = performance.now();
    const r = await runWorkflow(env.conn, 'rotate-fleet', {
      tag: { key: 'bench', value: 'quotas' },
      force: true,
    });
    const secs = (performance.now() - t1) / 1000;
    quotas.rates = false;
    if (r.status !== 'SUCCEEDED') {
      console.log(`rotate-fleet ${r.status}: ${r.error}: ${String(r.cause).slice(0, 300)}`);
      return;
    }
    const s = r.output as FleetSummary;
    const rate = s.succeeded / secs;
    const h = await payloadsAndHistories(env);
    console.log(
      '| secrets | succeeded | failed | seconds | rotations/s | of budget-bound rate | throttled requests | slow-downs | pages | executions | largest state KB | longest history (events) | store MB | RSS MB |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    console.log(
      `| ${total} | ${s.succeeded} | ${s.failed} | ${f1(secs)} | ${f1(rate)} | ${f1((100 * rate) / budgetRate)}% | ${s.throttling.throttledRequests} | ${s.throttling.backoffs} | ${s.pages} | ${s.executions} | ${f1(h.largest / 1024)} | ${h.longest} | ${f1(storeBytes(env.stateDir) / 1e6)} | ${f1(process.memoryUsage().rss / 1e6)} |`,
    );
    if (s.failed > 0) console.log(`\nfailures by error: ${JSON.stringify(s.failuresByError)}`);
  } finally {
    await env.stop();
  }
}

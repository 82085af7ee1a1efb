import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import aslValidator from 'asl-validator';
import { loadCatalog } from '../../../local/catalog';
import { resolveContext, resolveDefinition } from '../../../local/deploy';

const root = path.resolve(__dirname, '../../..');
const files = readdirSync(path.join(root, 'workflows')).filter((f) => f.endsWith('.asl.json'));

/** The definition as deployed (Fn::GetAtt and #{AWS::Partition} resolved), as the local cloud deploys it. */
const ctx = resolveContext(loadCatalog(root), {
  region: 'us-east-1',
  accountId: '000000000000',
  stage: 'local',
});
const deployed = (definition: unknown): unknown => JSON.parse(resolveDefinition(definition, ctx));

interface State {
  Type: string;
  Resource?: unknown;
  ItemProcessor?: Machine;
  Iterator?: Machine;
  Branches?: Machine[];
}
interface Machine {
  States: Record<string, State>;
}

/** Every state, nested Map and Parallel states included. */
function allStates(definition: Machine): [string, State][] {
  return Object.entries(definition.States).flatMap(([name, s]) => [
    [name, s] as [string, State],
    ...[s.ItemProcessor, s.Iterator, ...(s.Branches ?? [])]
      .filter((m): m is Machine => !!m)
      .flatMap(allStates),
  ]);
}

function taskStates(definition: Machine) {
  return allStates(definition).filter(([, s]) => s.Type === 'Task');
}

describe('workflows', () => {
  it('has at least the rotate-secret workflow', () => {
    expect(files).toContain('rotate-secret.asl.json');
  });

  it.each(files)('%s passes asl-validator', (file) => {
    const definition = JSON.parse(readFileSync(path.join(root, 'workflows', file), 'utf8'));
    // asl-validator mutates its input: hand it a copy.
    const result = aslValidator(deployed(definition) as never);
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });

  it('declares every workflow in serverless.yml and resolves every Task to a declared function', () => {
    const catalog = loadCatalog(root);
    const declared = new Set(catalog.functions.map((f) => f.key));
    expect(catalog.stateMachines.map((m) => path.basename(m.definitionFile)).sort()).toEqual(
      [...files].sort(),
    );
    for (const sm of catalog.stateMachines) {
      for (const [name, state] of taskStates(sm.definition as never)) {
        const r = state.Resource as { 'Fn::GetAtt'?: [string, string] } | string;
        if (typeof r === 'string') {
          // An integration: its ARN carries the deployment's partition (aws-cn, aws-us-gov...).
          expect({ state: name, r }).toEqual({
            state: name,
            r: expect.stringMatching(/^arn:#\{AWS::Partition\}:states:::/),
          });
        } else {
          expect({ state: name, fn: r['Fn::GetAtt']?.[0] }).toEqual({ state: name, fn: expect.any(String) });
          expect(declared.has(r['Fn::GetAtt']?.[0] ?? '')).toBe(true);
        }
      }
    }
  });

  it('names states uniquely within each machine, Tasks in PascalCase', () => {
    for (const sm of loadCatalog(root).stateMachines) {
      const names = allStates(sm.definition as never).map(([n]) => n);
      expect(new Set(names).size).toBe(names.length);
      for (const [name] of taskStates(sm.definition as never)) expect(name).toMatch(/^[A-Z][A-Za-z]+$/);
    }
  });

  it('bounds every Task with a timeout and catches its failures', () => {
    for (const sm of loadCatalog(root).stateMachines) {
      for (const [name, state] of taskStates(sm.definition as never)) {
        const s = state as { Catch?: { ErrorEquals: string[] }[]; TimeoutSeconds?: number };
        expect({ name, timeout: (s.TimeoutSeconds ?? 0) > 0 }).toEqual({ name, timeout: true });
        expect({ name, catches: s.Catch?.some((c) => c.ErrorEquals.includes('States.ALL')) }).toEqual({
          name,
          catches: true,
        });
      }
    }
  });

  it('gives every Task exactly the Retry and Catch of workflows/task-policy.json', () => {
    const policy = JSON.parse(readFileSync(path.join(root, 'workflows/task-policy.json'), 'utf8')) as Record<
      'lambda' | 'integration' | 'childExecution',
      { Retry?: unknown[]; catchResultPaths: string[] }
    >;
    const kindOf = (r: unknown) =>
      typeof r !== 'string'
        ? 'lambda'
        : /:states:::states:startExecution\.sync/.test(r)
          ? 'childExecution'
          : 'integration';
    let checked = 0;
    for (const sm of loadCatalog(root).stateMachines) {
      for (const [name, state] of taskStates(sm.definition as never)) {
        const s = state as {
          Resource?: unknown;
          Retry?: unknown[];
          Catch?: { ErrorEquals: string[]; ResultPath?: string }[];
        };
        const p = policy[kindOf(s.Resource)];
        expect({ machine: sm.key, state: name, Retry: s.Retry }).toEqual({
          machine: sm.key,
          state: name,
          Retry: p.Retry,
        });
        expect({ state: name, catchers: s.Catch?.length }).toEqual({ state: name, catchers: 1 });
        const [c] = s.Catch ?? [];
        expect({ state: name, ErrorEquals: c?.ErrorEquals }).toEqual({
          state: name,
          ErrorEquals: ['States.ALL'],
        });
        expect(p.catchResultPaths).toContain(c?.ResultPath);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(30);
  });
});

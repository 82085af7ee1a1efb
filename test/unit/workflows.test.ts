import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import aslValidator from 'asl-validator';
import { loadCatalog } from '../../local/catalog';

const root = path.resolve(__dirname, '../..');
const files = readdirSync(path.join(root, 'workflows')).filter((f) => f.endsWith('.asl.json'));

/** Fn::GetAtt -> a concrete ARN, as serverless-step-functions does at package time. */
function resolveGetAtt(definition: unknown): unknown {
  const text = JSON.stringify(definition).replace(
    /\{"Fn::GetAtt":\["([\w-]+)","Arn"\]\}/g,
    '"arn:aws:lambda:us-east-1:000000000000:function:credflow-local-$1"',
  );
  return JSON.parse(text);
}

function taskStates(definition: { States: Record<string, { Type: string; Resource?: unknown }> }) {
  return Object.entries(definition.States).filter(([, s]) => s.Type === 'Task');
}

describe('workflows', () => {
  it('has at least the rotate-secret workflow', () => {
    expect(files).toContain('rotate-secret.asl.json');
  });

  it.each(files)('%s passes asl-validator', (file) => {
    const definition = JSON.parse(readFileSync(path.join(root, 'workflows', file), 'utf8'));
    // asl-validator mutates its input: hand it a copy.
    const result = aslValidator(structuredClone(resolveGetAtt(definition)) as never);
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
          expect(r).toMatch(/^arn:aws:states:::/);
        } else {
          expect({ state: name, fn: r['Fn::GetAtt']?.[0] }).toEqual({ state: name, fn: expect.any(String) });
          expect(declared.has(r['Fn::GetAtt']?.[0] ?? '')).toBe(true);
        }
      }
    }
  });

  it('retries TransientError and catches everything else on every Task', () => {
    for (const sm of loadCatalog(root).stateMachines) {
      for (const [, state] of taskStates(sm.definition as never)) {
        const s = state as {
          Retry?: { ErrorEquals: string[] }[];
          Catch?: { ErrorEquals: string[] }[];
          TimeoutSeconds?: number;
        };
        expect(s.Retry?.some((r) => r.ErrorEquals.includes('TransientError'))).toBe(true);
        expect(s.Catch?.some((c) => c.ErrorEquals.includes('States.ALL'))).toBe(true);
        expect(s.TimeoutSeconds).toBeGreaterThan(0);
      }
    }
  });
});

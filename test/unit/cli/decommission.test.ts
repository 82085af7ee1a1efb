/**
 * decommission's typed confirmation. The question itself (the identifier typed back) is tested
 * on streams; that the CLI asks it on a terminal, and only there, runs the CLI under a real
 * pseudo-terminal (util-linux `script`). The mismatch against a real database is in
 * test/e2e/cli.test.ts; refusing off a terminal without --yes in credflow.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { confirmTyped } from '../../../cli/decommission';
import { EXIT } from '../../../cli/errors';
import { cliOnTerminal } from '../../support/terminal';

/** Asks on streams; `typed` is what the operator sends (`end` closes the input after it). */
async function ask(identifier: string, typed: string, end = false): Promise<{ ok: boolean; asked: string }> {
  const input = new PassThrough();
  const output = new PassThrough();
  let asked = '';
  output.on('data', (c: Buffer) => {
    asked += c.toString();
  });
  const answer = confirmTyped(identifier, input, output);
  if (end) input.end(typed);
  else input.write(typed);
  const ok = await answer;
  return { ok, asked };
}

describe('the typed confirmation', () => {
  it('asks for the identifier and accepts it typed back exactly', async () => {
    const r = await ask('shop-db', 'shop-db\n');
    expect(r.ok).toBe(true);
    expect(r.asked).toBe('Type the database identifier (shop-db) to delete it: ');
  });

  it('accepts it with the spaces around it a terminal lets through', async () => {
    expect((await ask('shop-db', '  shop-db \n')).ok).toBe(true);
  });

  it.each([
    ['another identifier', 'orders-db\n'],
    ['a prefix', 'shop\n'],
    ['a longer identifier that holds it', 'shop-db-old\n'],
    ['other case', 'SHOP-DB\n'],
    ['an empty line', '\n'],
    ['yes', 'yes\n'],
  ])('refuses %s', async (_what, typed) => {
    expect((await ask('shop-db', typed)).ok).toBe(false);
  });

  it('reads one line: a right answer after a wrong one is too late', async () => {
    expect((await ask('shop-db', 'shop\nshop-db\n')).ok).toBe(false);
  });

  it('the input closing (Ctrl-D) is a refusal, not a wait for ever', async () => {
    expect((await ask('shop-db', '', true)).ok).toBe(false);
    expect((await ask('shop-db', 'shop-d', true)).ok).toBe(false);
  }, 5_000);
  // On a terminal readline reads keys: Enter ends the line, Ctrl-C and Ctrl-D abort the question.
  it.each([
    ['Ctrl-C', '\u0003', false],
    ['Ctrl-D', '\u0004', false],
    ['the identifier and Enter', 'shop-db\r', true],
  ])(
    'on a terminal: %s',
    async (_what, keys, expected) => {
      const input = new PassThrough();
      const output = Object.assign(new PassThrough(), { isTTY: true, columns: 80 });
      const answer = confirmTyped('shop-db', input, output);
      input.write(keys);
      await expect(answer).resolves.toBe(expected);
    },
    5_000,
  );
});

describe('decommission on a terminal', () => {
  let home: string;

  beforeAll(() => {
    home = mkdtempSync(path.join(os.tmpdir(), 'credflow-pty-'));
  });
  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
  });

  /**
   * The CLI under a pseudo-terminal (stdin, stdout and stderr all the terminal), with a region
   * and no AWS credentials: whatever it does, it cannot change anything.
   */
  function underTerminal(args: string[]): Promise<{ code: number; text: string }> {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env))
      if (!(k.startsWith('AWS_') && !k.startsWith('AWS_SDK_JS_')) && k !== 'CREDFLOW_TOKEN') env[k] = v;
    Object.assign(env, {
      HOME: home,
      NO_COLOR: '1',
      AWS_REGION: 'eu-west-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    return cliOnTerminal(args, { env, timeoutMs: 60_000 });
  }

  it('does not ask for --yes there: it goes on to read the database (here: no credentials, exit 4)', async () => {
    const r = await underTerminal(['decommission', 'shop-db']);
    expect(r.text).not.toContain('ConfirmationRequired');
    expect(r.text).toContain('(CredentialsMissing)');
    expect(r.code).toBe(EXIT.unreachable);
  }, 60_000);
});

/**
 * The CLI's surface, in process (test/e2e/cli.test.ts runs it as a subprocess): every command's
 * --help ends with an example, --version, and with no AWS credentials or region every command
 * that talks to AWS prints one line naming what is missing and exits non-zero.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main, program } from '../../../cli/credflow';
import { EXIT } from '../../../cli/errors';
import { ATTENTION_KINDS } from '../../../src/lifecycle/attention';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with stdout and stderr captured. */
async function run(...args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  });
  try {
    const code = await main(['node', 'credflow', ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('help and version', () => {
  const commands = program().commands.map((c) => c.name());

  /**
   * The README's CLI table (section "The CLI", first column): each code span is a command as
   * typed, e.g. `rotate-now <secret>` or `iam create-principal NAME --policy FILE`. A `\|` in a
   * cell is a literal bar (an alternative), not a column.
   */
  function readmeCommands(): { name: string; sub?: string; options: string[]; typed: string }[] {
    const readme = readFileSync(path.join(__dirname, '../../../README.md'), 'utf8');
    const section = readme.split(/^## The CLI$/m)[1]?.split(/^## /m)[0] ?? '';
    const rows = section.split('\n').filter((l) => l.startsWith('| `'));
    return rows.flatMap((row) => {
      const first = row.replaceAll('\\|', '\u0000').split('|')[1] ?? '';
      return [...first.matchAll(/`([^`]+)`/g)].map((m) => {
        const typed = (m[1] ?? '').replaceAll('\u0000', '|');
        const [name = '', second] = typed.split(/\s+/);
        return {
          name,
          ...(second && /^[a-z][a-z-]*$/.test(second) ? { sub: second } : {}),
          options: typed.match(/--[a-z][a-z-]*/g) ?? [],
          typed,
        };
      });
    });
  }

  it("reads the README's CLI table", () => {
    const names = readmeCommands().map((c) => c.name);
    // The parse itself: a plain row, an escaped bar, a row of several commands, a subcommand.
    expect(names).toEqual(expect.arrayContaining(['rotate-now', 'adopt', 'watch', 'alerts', 'iam']));
    expect(readmeCommands().find((c) => c.name === 'adopt')?.options).toEqual(
      expect.arrayContaining(['--prefix', '--tag', '--undo']),
    );
    expect(readmeCommands().find((c) => c.name === 'iam')?.sub).toBe('create-principal');
  });

  it('every command the README documents is a command, with the options it shows', () => {
    const cli = program();
    const global = cli.options.map((o) => o.long);
    for (const doc of readmeCommands()) {
      const cmd = cli.commands.find((c) => c.name() === doc.name);
      expect({ typed: doc.typed, known: cmd !== undefined }).toEqual({ typed: doc.typed, known: true });
      if (!cmd) continue;
      const leaf = doc.sub ? cmd.commands.find((c) => c.name() === doc.sub) : cmd;
      expect({ typed: doc.typed, sub: leaf !== undefined }).toEqual({ typed: doc.typed, sub: true });
      const known = [...(leaf?.options ?? []).map((o) => o.long), ...global];
      for (const option of doc.options)
        expect({ typed: doc.typed, option, known: known.includes(option) }).toEqual({
          typed: doc.typed,
          option,
          known: true,
        });
    }
  });

  it("the README's status row names every kind status lists, worst first", () => {
    const row = readFileSync(path.join(__dirname, '../../../README.md'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('| `status ['));
    const named = /worst first: ([a-z, ]+) secrets/.exec(row ?? '')?.[1]?.split(', ');
    expect(named).toEqual([...ATTENTION_KINDS]);
  });

  it('every top-level command is in the README table', () => {
    const documented = new Set(readmeCommands().map((c) => c.name));
    expect(commands.filter((c) => !documented.has(c))).toEqual([]);
  });

  it.each(['', ...commands])('credflow %s --help ends with an example', async (name) => {
    const r = await run(...(name ? [name] : []), '--help');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    const at = lines.findIndex((l) => /^Examples?:$/.test(l));
    expect(at).toBeGreaterThan(0);
    const examples = lines.slice(at + 1);
    expect(examples.length).toBeGreaterThan(0);
    for (const l of examples) expect(l).toMatch(/^ {2}\$ credflow /);
    // The example runs the command it documents.
    if (name) expect(examples.join('\n')).toContain(` ${name}`);
  });

  it('--help shows list defaults as they are typed, not as JSON', async () => {
    const r = await run('create-user', '--help');
    // Commander wraps help at the terminal's width: compare with the line breaks folded.
    expect(r.stdout.replace(/\s+/g, ' ')).toContain('(default: SELECT)');
    expect(r.stdout).not.toContain('["SELECT"]');
  });

  it('--version prints the package version on stdout', async () => {
    const r = await run('--version');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(require('../../../package.json').version);
    expect(r.stderr).toBe('');
  });
});

describe('with no AWS configuration', () => {
  const saved = { ...process.env };
  let home: string;

  beforeEach(() => {
    home = mkdtempSync(path.join(os.tmpdir(), 'credflow-nohome-'));
    for (const k of Object.keys(process.env))
      if ((k.startsWith('AWS_') && !k.startsWith('AWS_SDK_JS_')) || k === 'CREDFLOW_TOKEN')
        delete process.env[k];
    // No ~/.aws files, and no instance metadata service to ask (unit tests use no network).
    process.env['HOME'] = home;
    process.env['AWS_EC2_METADATA_DISABLED'] = 'true';
  });

  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    rmSync(home, { recursive: true, force: true });
  });

  const AWS_COMMANDS: string[][] = [
    ['provision', 'shop-db', '--engine', 'postgres'],
    ['create-user', 'shop-db', 'app'],
    ['rotate-now', 'credflow/shop-db/app'],
    ['rotate-master', 'shop-db'],
    ['verify', 'credflow/shop-db/app'],
    ['decommission', 'shop-db', '--yes', '--skip-final-snapshot'],
    ['decommission', 'shop-db', '--dry-run'],
    ['watch', 'some-execution'],
    ['rotate-fleet'],
    ['executions'],
    ['history', 'arn:aws:states:us-east-1:123456789012:execution:credflow-dev-rotate-secret:x'],
    ['secrets'],
    ['reconcile'],
    ['preflight', 'shop-db'],
    ['adopt', 'apps/shop/app', '--dry-run'],
  ];

  function expectOneLine(r: Run, code: string) {
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^credflow: .+/)]);
    expect(r.stderr).toContain(`(${code})`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }

  it.each(AWS_COMMANDS.map((a) => [a.join(' '), a]))(
    'no region: `%s` names it in one line and exits 4',
    async (_label, args) => {
      const r = await run(...(args as string[]));
      expect(r.code).toBe(EXIT.unreachable);
      expectOneLine(r, 'RegionMissing');
      expect(r.stderr).toContain('AWS_REGION');
    },
  );

  it.each(AWS_COMMANDS.map((a) => [a.join(' '), a]))(
    'no credentials: `%s` names them in one line and exits 4',
    async (_label, args) => {
      process.env['AWS_REGION'] = 'eu-west-1';
      const r = await run(...(args as string[]));
      expect(r.code).toBe(EXIT.unreachable);
      expectOneLine(r, 'CredentialsMissing');
      expect(r.stderr).toContain('AWS_PROFILE');
    },
  );

  it('decommission off a terminal without --yes refuses before asking AWS anything, nothing changed', async () => {
    process.env['AWS_REGION'] = 'eu-west-1';
    const r = await run('decommission', 'shop-db');
    expect(r.code).toBe(EXIT.usage);
    expectOneLine(r, 'ConfirmationRequired');
    expect(r.stderr).toContain('--yes');
    expect(r.stderr).toContain('nothing changed');
  });

  it('decommission refuses --final-snapshot with --skip-final-snapshot', async () => {
    const r = await run('decommission', 'shop-db', '--yes', '--skip-final-snapshot', '--final-snapshot', 'x');
    expect(r.code).toBe(EXIT.usage);
    expectOneLine(r, 'ValidationError');
  });

  it.each([
    [['alerts'], 'NotLocal', EXIT.usage],
    [['console'], 'NotLocal', EXIT.usage],
    [['--state-dir', '/nonexistent/credflow', 'deploy', '--local'], 'LocalCloudNotRunning', EXIT.unreachable],
  ])('%j needs no AWS account and says what it needs instead', async (args, code, exit) => {
    process.env['AWS_REGION'] = 'eu-west-1';
    const r = await run(...args);
    expect(r.code).toBe(exit);
    expectOneLine(r, code);
  });
});

describe('rotate-fleet --max-concurrency', () => {
  // The fleet's pages are inline Maps, and AWS runs at most 40 iterations of one at once: a larger
  // number is refused before anything runs, with the reason.
  it.each(['41', '50', '1000'])(
    "refuses %s with AWS's inline Map limit as the reason (exit 2)",
    async (n) => {
      const r = await run('rotate-fleet', '--max-concurrency', n);
      expect(r.code).toBe(EXIT.usage);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(
        /--max-concurrency must be at most 40: .*inline Map.*40 iterations at once on AWS/,
      );
    },
  );

  it.each(['0', '-1', '2.5', 'many'])('refuses %s as not 1..40', async (n) => {
    const r = await run('rotate-fleet', '--max-concurrency', n);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain('--max-concurrency must be 1..40');
  });
});

describe('iam create-principal --trust', () => {
  it('makes a role that trusts the services named, refuses --trust on a user or a name that is no service principal', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'credflow-trust-'));
    try {
      const policy = path.join(dir, 'p.json');
      writeFileSync(
        policy,
        JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'logs:*', Resource: '*' }] }),
      );
      const base = ['--state-dir', dir, 'iam', 'create-principal'];
      const made = await run(
        ...base,
        'starter',
        '--role',
        '--policy',
        policy,
        '--trust',
        'events.amazonaws.com',
      );
      expect(made.code).toBe(EXIT.ok);
      expect(made.stdout).toBe('arn:aws:iam::000000000000:role/starter\n');
      const stored = JSON.parse(readFileSync(path.join(dir, 'principals.json'), 'utf8')) as {
        name: string;
        trust?: unknown;
      }[];
      expect(stored.find((p) => p.name === 'starter')?.trust).toEqual({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: ['events.amazonaws.com'] }, Action: 'sts:AssumeRole' },
        ],
      });
      for (const args of [
        ['user', '--policy', policy, '--trust', 'states.amazonaws.com'],
        ['role2', '--role', '--policy', policy, '--trust', 'arn:aws:iam::000000000000:root'],
      ]) {
        const r = await run(...base, ...args);
        expect(r.code).toBe(EXIT.usage);
        expect(r.stdout).toBe('');
        expect(r.stderr).toContain('(ValidationError)');
        expect(r.stderr).toContain('--trust');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

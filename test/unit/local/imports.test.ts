/**
 * STYLE.md: "The emulator imitates AWS, which knows nothing of credflow: nothing under the
 * emulated services imports `src/`." Only the files that deploy credflow into the local cloud
 * (boot, catalog, deploy) may reach into the workflow's code.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');
const LOCAL = path.join(ROOT, 'local');
/** The deployers: they load serverless.yml's handlers and point the workflow's clients here. */
const DEPLOYERS = new Set(['boot.ts', 'catalog.ts', 'deploy.ts']);
/**
 * The console is credflow's operator view served by the cloud, not an emulated service: it reads
 * the cloud through the AWS SDK as the CLI does, so it may use credflow's tag names and readers,
 * but never an emulated service's internals (checked below).
 */
const CONSOLE = `console${path.sep}`;
const SERVICES = ['secretsmanager', 'rds', 'stepfunctions', 'eventbridge', 'sns', 'store', 'lambda'];
/** The workflow's side of the project. */
const WORKFLOW = ['src', 'functions', 'cli'].map((d) => path.join(ROOT, d) + path.sep);

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every module a file names: static imports and re-exports, `import()` and `require()`. */
function specifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\bfrom\s+'([^']+)'/g,
    /\bimport\s*\(\s*'([^']+)'\s*\)/g,
    /\brequire\s*\(\s*'([^']+)'\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) found.push(m[1]!);
  return found;
}

/** The workflow modules `file` imports, as paths from the project root. */
function workflowImports(file: string): string[] {
  return specifiers(readFileSync(file, 'utf8'))
    .filter((s) => s.startsWith('.'))
    .map((s) => path.resolve(path.dirname(file), s))
    .filter((target) => WORKFLOW.some((dir) => target.startsWith(dir)))
    .map((target) => path.relative(ROOT, target));
}

describe('the local cloud knows nothing of credflow', () => {
  const all = tsFiles(LOCAL);
  const files = all.filter((f) => {
    const rel = path.relative(LOCAL, f);
    return !DEPLOYERS.has(rel) && !rel.startsWith(CONSOLE);
  });

  it('finds the emulated services to check', () => {
    const folders = new Set(files.map((f) => path.relative(LOCAL, f).split(path.sep)[0]));
    for (const service of ['secretsmanager', 'rds', 'stepfunctions', 'eventbridge', 'sns', 'http', 'store'])
      expect(folders).toContain(service);
  });

  it('no file outside the deployers imports src/, functions/ or cli/', () => {
    const offenders = files.flatMap((f) =>
      workflowImports(f).map((target) => `${path.relative(ROOT, f)} -> ${target}`),
    );
    expect(offenders).toEqual([]);
  });

  it("the console reads the cloud through its AWS APIs only, never a service's internals", () => {
    const consoleFiles = all.filter((f) => path.relative(LOCAL, f).startsWith(CONSOLE));
    expect(consoleFiles.length).toBeGreaterThan(0);
    const internals = consoleFiles.flatMap((f) =>
      specifiers(readFileSync(f, 'utf8'))
        .filter((s) => s.startsWith('.'))
        .map((s) => path.relative(LOCAL, path.resolve(path.dirname(f), s)))
        .filter((target) => SERVICES.includes(target.split(path.sep)[0]!))
        .map((target) => `${path.relative(ROOT, f)} -> local/${target}`),
    );
    expect(internals).toEqual([]);
  });

  it('the check sees a workflow import when there is one', () => {
    // The deployers do import src/: proof that the scan would catch an emulated service doing it.
    expect(workflowImports(path.join(LOCAL, 'boot.ts'))).toContain(path.join('src', 'deps'));
  });
});

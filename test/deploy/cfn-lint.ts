import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/**
 * cfn-lint's errors for a template. Its exit code is a bit mask of findings (2 error, 4 warning,
 * 8 informational), so findings are read from its JSON; anything else (a crash, a bad argument,
 * output that is not its JSON list) throws instead of reading as "no errors".
 */
export async function cfnLintErrors(file: string, command = 'cfn-lint'): Promise<string[]> {
  const run = await exec(command, ['--format', 'json', file], {
    maxBuffer: 16 * 1024 * 1024,
  }).then(
    (r) => ({ code: 0 as unknown, stdout: r.stdout, stderr: r.stderr }),
    (err: { code?: unknown; stdout?: string; stderr?: string }) => ({
      code: err.code,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    }),
  );
  const findingsOnly = typeof run.code === 'number' && (run.code & ~(2 | 4 | 8)) === 0;
  let parsed: unknown;
  try {
    parsed = JSON.parse(run.stdout);
  } catch {
    parsed = undefined;
  }
  if (!findingsOnly || !Array.isArray(parsed)) {
    const said = run.stderr.trim() || run.stdout.trim() || 'no output';
    throw new Error(`cfn-lint did not lint ${file} (exit ${String(run.code)}): ${said}`);
  }
  return (parsed as { Level: string; Rule: { Id: string }; Message: string }[])
    .filter((f) => f.Level === 'Error')
    .map((f) => `${f.Rule.Id}: ${f.Message}`);
}

import { execFile } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

/**
 * The CLI on a terminal: run under a pseudo-terminal (util-linux `script`), so stdin, stdout and
 * stderr are all the terminal; `typed` is sent to it as keystrokes. What it printed comes back as
 * the terminal showed it (stdout and stderr together), with its exit code.
 */
export function cliOnTerminal(
  args: string[],
  o: { typed?: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ code: number; text: string }> {
  const command = [process.execPath, '--require', './test/support/register-ts.js', 'cli/credflow.ts', ...args]
    .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
    .join(' ');
  return new Promise((resolve) => {
    const child = execFile(
      'script',
      ['-qec', command, '/dev/null'],
      { cwd: root, env: o.env, timeout: o.timeoutMs },
      (err, stdout) => {
        const code = err ? (err as { code?: unknown }).code : 0;
        resolve({ code: typeof code === 'number' ? code : -1, text: stdout.replace(/\r/g, '') });
      },
    );
    child.stdin?.end(o.typed ?? '');
  });
}

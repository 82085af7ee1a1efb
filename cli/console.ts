import { spawn } from 'node:child_process';
import { CONSOLE_PATH } from '../local/console/paths';
import { CODE_QUERY, TOKEN_QUERY } from '../local/http/local-guard';
import { LOGIN_CODE_PATH } from '../local/http/server';
import { localToken } from './alerts';
import { connect, type GlobalOptions } from './context';
import { CliError, EXIT } from './errors';
import { say } from './output';

/**
 * The console's address with the token as a query parameter: the first visit trades it for an
 * HttpOnly cookie and drops it from the address bar.
 */
export function consoleUrl(endpoint: string, token: string): string {
  return `${endpoint}${CONSOLE_PATH}?${TOKEN_QUERY}=${encodeURIComponent(token)}`;
}

/** The platform's "open this URL" command. */
function opener(): { cmd: string; args: string[] } {
  if (process.platform === 'darwin') return { cmd: 'open', args: [] };
  if (process.platform === 'win32') return { cmd: 'cmd', args: ['/c', 'start', '""'] };
  return { cmd: 'xdg-open', args: [] };
}

/**
 * `credflow console`: prints the local console's URL (stdout) and, with --open, opens the console
 * in the default browser with a one-time login code (the token stays off the browser's command
 * line). On AWS the CloudWatch dashboard `credflow-<stage>` is the operators' view.
 */
export async function openConsole(g: GlobalOptions, o: { open: boolean }): Promise<number> {
  const conn = connect(g);
  if (conn.mode !== 'local' || !conn.endpoint) {
    throw new CliError(
      `the console is served by the local cloud (use --local); on AWS open the CloudWatch dashboard credflow-${conn.stage}`,
      'NotLocal',
      EXIT.usage,
    );
  }
  const token = localToken(g, conn);
  const url = consoleUrl(conn.endpoint, token);
  process.stdout.write(`${url}\n`);
  if (o.open) {
    // The browser's command line is readable by every user (ps): it gets a one-time code,
    // which its first visit trades for the token cookie, never the token itself.
    const res = await fetch(`${conn.endpoint}${LOGIN_CODE_PATH}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (!res.ok)
      throw new CliError(`the local cloud answered ${res.status} for a login code`, 'LoginCodeRefused');
    const { code } = (await res.json()) as { code: string };
    const login = `${conn.endpoint}${CONSOLE_PATH}?${CODE_QUERY}=${encodeURIComponent(code)}`;
    const { cmd, args } = opener();
    const opened = await new Promise<boolean>((resolve) => {
      const child = spawn(cmd, [...args, login], { detached: true, stdio: 'ignore' });
      child.once('error', () => resolve(false));
      child.once('spawn', () => {
        child.unref();
        resolve(true);
      });
    });
    if (!opened) say(`credflow: no browser to open (${cmd} not found); open the URL above`);
  }
  return EXIT.ok;
}

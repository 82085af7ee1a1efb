import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { tokenCookie } from '../http/local-guard';
import type { LocalHandler, LocalReply } from '../http/server';
import type { LocalLogger } from '../log';
import { type ConsoleSources, executionView, overview } from './data';
import { CONSOLE_API, CONSOLE_PATH } from './paths';

/**
 * The console's HTTP side, mounted by the local cloud under `/_credflow/console/` behind the
 * local routes' guard (loopback Host and Origin, the token): the page, its script and style
 * (plain files, no build step) and the JSON views the page polls (overview, execution, policy log).
 */

const STATIC: Record<string, { file: string; type: string }> = {
  '': { file: 'index.html', type: 'text/html; charset=utf-8' },
  'console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  'console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
};

/** Nothing but this origin's own files, no framing, no referrer (the first URL holds the token). */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/** The static files: next to this module when run from source, in the package when built. */
function staticDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    for (const candidate of [path.join(dir, 'static'), path.join(dir, 'local', 'console', 'static')])
      if (existsSync(path.join(candidate, 'index.html'))) return candidate;
    if (path.dirname(dir) === dir) throw new Error('the console files (local/console/static) are missing');
  }
}

const json = (status: number, body: unknown): LocalReply => ({
  status,
  headers: { 'content-type': 'application/json', ...PAGE_HEADERS },
  body: JSON.stringify(body),
});

export interface ConsoleOptions extends ConsoleSources {
  /** The token the guard checks; set as an HttpOnly cookie after a `?credflow_token=` visit. */
  token: string;
  logger: LocalLogger;
}

/** The handler for everything under CONSOLE_PATH. */
export function consoleHandler(opts: ConsoleOptions): LocalHandler {
  const dir = staticDir();
  const files = new Map<string, Buffer>();
  const file = (name: string) => {
    let buf = files.get(name);
    if (!buf) {
      buf = readFileSync(path.join(dir, name));
      files.set(name, buf);
    }
    return buf;
  };

  return async (_req, url, auth) => {
    // A first visit carries the token or a one-time code in the URL: trade it for the cookie
    // and drop it from the address bar (and so from the history and any later Referer).
    if ((auth === 'query' || auth === 'code') && !url.pathname.startsWith(CONSOLE_API)) {
      return {
        status: 303,
        headers: { location: CONSOLE_PATH, 'set-cookie': tokenCookie(opts.token), ...PAGE_HEADERS },
        body: '',
      };
    }
    if (`${url.pathname}/` === CONSOLE_PATH) {
      return { status: 308, headers: { location: CONSOLE_PATH }, body: '' };
    }
    const rest = url.pathname.slice(CONSOLE_PATH.length);
    const asset = STATIC[rest];
    if (asset)
      return {
        status: 200,
        headers: { 'content-type': asset.type, ...PAGE_HEADERS },
        body: file(asset.file),
      };
    try {
      if (url.pathname === `${CONSOLE_API}overview`) return json(200, await overview(opts));
      if (url.pathname === `${CONSOLE_API}policy-log`) {
        const principal = url.searchParams.get('principal') ?? '';
        if (principal.length > 2048 || !/^[\w+=,.@:/*?-]*$/.test(principal))
          return json(400, { __type: 'ValidationError', message: 'principal must be a part of an ARN' });
        return json(200, await opts.policyLog(principal || undefined));
      }
      if (url.pathname === `${CONSOLE_API}execution`) {
        const arn = url.searchParams.get('arn');
        if (!arn || !/^arn:aws:states:[^:]+:\d{12}:execution:[^:]+:[^:]+$/.test(arn))
          return json(400, { __type: 'ValidationError', message: 'arn must be an execution ARN' });
        return json(200, await executionView(opts, arn));
      }
    } catch (err) {
      const name = (err as Error)?.name ?? 'Error';
      if (name === 'ExecutionDoesNotExist' || name === 'StateMachineDoesNotExist')
        return json(404, { __type: name, message: 'No such execution.' });
      // A name only: messages of failed calls are not for the page.
      opts.logger.warn('console view failed', { path: url.pathname, error: name });
      return json(502, { __type: name, message: 'The console could not read the cloud; see its log.' });
    }
    return json(404, { __type: 'NotFound', message: 'No such console page.' });
  };
}

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AccessDeniedError } from '../iam/gate';
import type { LocalLogger } from '../log';
import { bodyPending, closeAfterReply, queryOf, readBody } from './body';
import { AwsError, internalFailure } from './errors';
import { assertJsonDepth } from './json-depth';
import {
  decodePath,
  isLoopbackHost,
  LocalAccessError,
  type LocalAuth,
  type LocalGuard,
  localGuard,
} from './local-guard';
import { LoginCodes } from './login-codes';
import type { JsonService, QueryService, RequestContext, ServiceRegistry } from './registry';
import {
  checkSigV4Headers,
  credentialScope,
  type SecretLookup,
  SigV4Error,
  scopeMismatch,
  verifySigV4Body,
} from './sigv4';
import { queryErrorXml, queryResponseXml } from './xml';

/** The body cap when the headers name no known service (its error needs no body at all). */
const DEFAULT_MAX_BODY = 64 * 1024;
export const LOCAL_PREFIX = '/_credflow/';
export const HEALTH_PATH = `${LOCAL_PREFIX}health`;
/** Issues a one-time console login code to a token holder (`credflow console --open`). */
export const LOGIN_CODE_PATH = `${LOCAL_PREFIX}login-code`;
/** In the User-Agent of the web console's own SDK calls: their request lines are logged at debug. */
export const POLLING_USER_AGENT = 'credflow-console';

/** JSON wire form of a response: Dates as epoch seconds, bytes as base64 (AWS JSON protocols). */
export function toJsonWire(value: unknown): unknown {
  if (value instanceof Date) return value.getTime() / 1000;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(toJsonWire);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>))
      if (v !== undefined) out[k] = toJsonWire(v);
    return out;
  }
  return value;
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

/** What a local handler answers: any content type (a page, a script, JSON). */
export type LocalReply = Reply;

/**
 * Serves every GET under a path prefix of `/_credflow/` (the web console), after the guard let
 * the caller in; `auth` says how (a `query` login is the moment to set the token cookie).
 */
export type LocalHandler = (req: http.IncomingMessage, url: URL, auth: LocalAuth) => Promise<LocalReply>;

/** What the headers alone say about where a request goes. */
type Target =
  | { kind: 'json'; service: JsonService | undefined; target: string; operation: string }
  /** `service` is known from the SigV4 scope, or else only once the body's `Action` is read. */
  | { kind: 'query'; service: QueryService | undefined }
  | { kind: 'unknown' };

type Route =
  | { kind: 'json'; service: JsonService | undefined; target: string; operation: string }
  | { kind: 'query'; service: QueryService | undefined; action: string; params: Record<string, string> }
  | { kind: 'unknown' };

export interface EndpointOptions {
  registry: ServiceRegistry;
  secretFor: SecretLookup;
  /** The keys that may sign requests to the `/_credflow/*` routes (default: every key). */
  localSecretFor?: SecretLookup;
  logger: LocalLogger;
  /** The cloud's region: every signature's scope must name it. */
  region: string;
  /** The token `credflow up` prints, for the `/_credflow/*` routes. */
  token: string;
  /**
   * IAM's gate: called once the signature is verified and the call is known, before the service
   * acts; throws AWS's AccessDenied (or an unknown session token's error).
   */
  authorize?: (
    ctx: RequestContext,
    signingName: string,
    operation: string,
    input: Record<string, unknown>,
  ) => void;
}

/**
 * The one HTTP endpoint of the local cloud. It checks a request's headers first (SigV4 form,
 * scope, key, date: see `checkSigV4Headers`), then reads the body up to the called service's
 * cap, verifies the signature over it, picks the protocol (X-Amz-Target for JSON services, the
 * `Action` form field for query services), calls the service and renders its result or error in
 * that protocol's shape. `/_credflow/*` are local routes behind `guard`.
 */
export class HttpEndpoint {
  private readonly server: http.Server;
  /**
   * Read-only local views under `/_credflow/` (alerts...): answered as JSON to loopback Hosts
   * that pass `guard`, never a secret value.
   */
  readonly localRoutes = new Map<string, () => unknown>();
  /** Handlers of whole prefixes under `/_credflow/` (the web console), behind the same guard. */
  readonly localHandlers = new Map<string, LocalHandler>();
  /** The gate of the local routes, for anything else served here later (a web console). */
  readonly guard: LocalGuard;
  /** One-time console login codes (LOGIN_CODE_PATH issues them to a token holder). */
  readonly loginCodes = new LoginCodes();

  constructor(private readonly opts: EndpointOptions) {
    this.guard = localGuard({
      token: opts.token,
      secretFor: opts.localSecretFor ?? opts.secretFor,
      region: opts.region,
      redeemCode: (code) => this.loginCodes.redeem(code),
    });
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.opts.logger.error('request handling failed', { error: (err as Error)?.name });
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    // Longer than an SDK client's idle socket keeps living, so the server never closes a kept-alive
    // connection just as a client reuses it (a read ECONNRESET the client cannot tell from a
    // network fault); ALB and API Gateway hold idle connections about as long.
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
  }

  /** Listens on 127.0.0.1 only; resolves with the bound port (pass 0 for a free one). */
  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', onError);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith(LOCAL_PREFIX)) return this.handleLocal(req, res, url);
    const started = Date.now();
    const requestId = randomUUID();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;

    const target = this.target(headers);
    let route: Route = target.kind === 'query' ? { ...target, action: '', params: {} } : target;
    let bodyRead = false;
    let reply: Reply;
    try {
      const claim = checkSigV4Headers(headers, this.opts.secretFor, {
        region: this.opts.region,
        service: target.kind === 'unknown' ? undefined : target.service?.signingName,
      });
      const body = await readBody(req, this.limitFor(target));
      bodyRead = true;
      route = this.route(target, headers, url, body);
      // A query request whose scope named no query service is routed by its Action; only now
      // is the service known that the scope had to name.
      if (route.kind === 'query' && route.service && target.kind === 'query' && !target.service) {
        const mismatch = scopeMismatch(claim, {
          region: this.opts.region,
          service: route.service.signingName,
        });
        if (mismatch) throw mismatch;
      }
      const caller = await verifySigV4Body(
        { method: req.method ?? 'GET', path: decodePath(url.pathname), query: queryOf(url), headers, body },
        claim,
      );
      const ctx: RequestContext = {
        requestId,
        accessKeyId: caller.accessKeyId,
        region: caller.region,
        signingService: caller.service,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
        securityToken: headers['x-amz-security-token'],
      };
      reply = await this.dispatch(route, body, ctx);
    } catch (err) {
      reply = this.renderError(route, toAwsError(err, this.opts.logger, labelOf(route)), requestId);
    }
    reply.headers['x-amzn-requestid'] = requestId;
    if (!bodyRead && bodyPending(headers)) closeAfterReply(req, res);
    send(res, reply);
    // The console's polling reads would fill the log of a cloud whose page is left open.
    const polling = (headers['user-agent'] ?? '').includes(POLLING_USER_AGENT);
    this.opts.logger[polling ? 'debug' : 'info']('request', {
      requestId,
      call: labelOf(route),
      status: reply.status,
      ...(reply.headers['x-amzn-errortype'] ? { error: reply.headers['x-amzn-errortype'] } : {}),
      ms: Date.now() - started,
    });
  }

  /**
   * `/_credflow/*`: the health check answers any loopback Host with nothing but "running"
   * (liveness for scripts, and nothing a page could learn from), and with the cloud's pid to a
   * caller holding the token; every other route needs `guard`,
   * which runs before the route is even looked up so that names are not probed.
   */
  private async handleLocal(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const reply = (status: number, body: unknown, extra: Record<string, string> = {}) =>
      send(res, {
        status,
        headers: {
          'content-type': 'application/json',
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
          ...extra,
        },
        body: JSON.stringify(body),
      });
    const refuse = (status: number, code: string, message: string, extra: Record<string, string> = {}) => {
      // Never read a body a local route did not ask for.
      if (bodyPending(req.headers)) closeAfterReply(req, res);
      reply(status, { __type: code, message }, extra);
      this.opts.logger.info('local request', { path: url.pathname, status, error: code });
    };
    try {
      if (url.pathname === HEALTH_PATH && isLoopbackHost(req.headers.host)) {
        if (req.headers.authorization === undefined) return reply(200, { status: 'running' });
        // With the token: which process answers, so `credflow up` can tell its state dir's
        // cloud from whatever else now holds a recorded pid or port.
        await this.guard(req);
        return reply(200, { status: 'running', pid: process.pid });
      }
      const auth = await this.guard(req);
      if (url.pathname === LOGIN_CODE_PATH) {
        // Only a caller showing the token itself (or a signature) gets a code: not a browser
        // holding the cookie, nor one that came in with a code.
        if (auth !== 'bearer' && auth !== 'sigv4')
          return refuse(
            403,
            'Forbidden',
            'A login code is issued to a token holder (Authorization: Bearer).',
          );
        if (req.method !== 'GET')
          return refuse(405, 'MethodNotAllowed', 'Local routes answer GET only.', { allow: 'GET' });
        return reply(200, this.loginCodes.issue());
      }
      const prefix = [...this.localHandlers.keys()].find(
        (p) => url.pathname.startsWith(p) || `${url.pathname}/` === p,
      );
      if (prefix !== undefined) {
        if (req.method !== 'GET')
          return refuse(405, 'MethodNotAllowed', 'Local routes answer GET only.', { allow: 'GET' });
        if (bodyPending(req.headers)) closeAfterReply(req, res);
        const r = await (this.localHandlers.get(prefix) as LocalHandler)(req, url, auth);
        send(res, {
          ...r,
          headers: { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...r.headers },
        });
        this.opts.logger.debug('local request', { path: url.pathname, status: r.status, auth });
        return;
      }
      const route = this.localRoutes.get(url.pathname);
      if (!route) return refuse(404, 'NotFound', 'No such local route.');
      if (req.method !== 'GET')
        return refuse(405, 'MethodNotAllowed', 'Local routes answer GET only.', { allow: 'GET' });
      if (bodyPending(req.headers)) closeAfterReply(req, res);
      reply(200, route());
      this.opts.logger.info('local request', { path: url.pathname, status: 200, auth });
    } catch (err) {
      if (!(err instanceof LocalAccessError)) throw err;
      refuse(
        err.status,
        err.code,
        err.message,
        err.status === 401 ? { 'www-authenticate': 'Bearer realm="credflow"' } : {},
      );
    }
  }

  private target(headers: Record<string, string>): Target {
    const target = headers['x-amz-target'];
    if (target) {
      const dot = target.lastIndexOf('.');
      const prefix = dot === -1 ? target : target.slice(0, dot);
      return {
        kind: 'json',
        service: this.opts.registry.jsonService(prefix),
        target,
        operation: target.slice(dot + 1),
      };
    }
    const form = (headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
    if (form || !bodyPending(headers)) {
      const scope = credentialScope(headers['authorization']);
      return { kind: 'query', service: this.opts.registry.querySigning(scope?.service) };
    }
    return { kind: 'unknown' };
  }

  private limitFor(target: Target): number {
    if (target.kind === 'unknown') return DEFAULT_MAX_BODY;
    if (target.service) return target.service.maxRequestBytes;
    return target.kind === 'query'
      ? this.opts.registry.maxQueryRequestBytes || DEFAULT_MAX_BODY
      : DEFAULT_MAX_BODY;
  }

  private route(target: Target, headers: Record<string, string>, url: URL, body: Buffer): Route {
    if (target.kind === 'json') return target;
    const params: Record<string, string> = {};
    for (const [k, v] of url.searchParams) params[k] = v;
    if ((headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params[k] = v;
    }
    const action = params['Action'];
    if (!action) return { kind: 'unknown' };
    const scope = credentialScope(headers['authorization']);
    return {
      kind: 'query',
      service: this.opts.registry.queryService(action, scope?.service),
      action,
      params,
    };
  }

  private async dispatch(route: Route, body: Buffer, ctx: RequestContext): Promise<Reply> {
    if (route.kind === 'json') {
      const op =
        route.service && Object.hasOwn(route.service.operations, route.operation)
          ? route.service.operations[route.operation]
          : undefined;
      if (!route.service || !op)
        throw new AwsError('UnknownOperationException', `Unknown operation ${route.target}`);
      let input: unknown;
      const text = body.toString('utf8');
      assertJsonDepth(text, 'body');
      try {
        input = body.length === 0 ? {} : JSON.parse(text);
      } catch {
        throw new AwsError('SerializationException', 'Start of structure or map found where not expected.');
      }
      if (input === null || typeof input !== 'object' || Array.isArray(input)) {
        throw new AwsError('SerializationException', 'Start of structure or map found where not expected.');
      }
      this.opts.authorize?.(
        ctx,
        route.service.signingName,
        route.operation,
        input as Record<string, unknown>,
      );
      const result = await op(input as Record<string, unknown>, ctx);
      return {
        status: 200,
        headers: { 'content-type': `application/x-amz-json-${route.service.jsonVersion}` },
        body: JSON.stringify(toJsonWire(result ?? {})),
      };
    }
    if (route.kind === 'query') {
      const action =
        route.service && Object.hasOwn(route.service.actions, route.action)
          ? route.service.actions[route.action]
          : undefined;
      if (!route.service || !action) {
        throw new AwsError('InvalidAction', `The action ${route.action} is not valid for this web service.`);
      }
      this.opts.authorize?.(ctx, route.service.signingName, route.action, route.params);
      const result = await action(route.params, ctx);
      return {
        status: 200,
        headers: { 'content-type': 'text/xml' },
        body: queryResponseXml(route.action, route.service.xmlNamespace, result, ctx.requestId),
      };
    }
    throw new AwsError(
      'UnknownOperationException',
      'The request names no operation (X-Amz-Target or Action).',
    );
  }

  private renderError(route: Route, err: AwsError, requestId: string): Reply {
    if (route.kind === 'query') {
      // The query protocol names signature failures its own way (SignatureDoesNotMatch...).
      const { code, message } =
        err instanceof SigV4Error
          ? err.query
          : err instanceof AccessDeniedError
            ? { code: route.service?.accessDeniedCode ?? 'AccessDenied', message: err.message }
            : err;
      return {
        status: err instanceof AccessDeniedError ? 403 : (route.service?.statusFor?.(err) ?? err.status),
        headers: { 'content-type': 'text/xml' },
        body: queryErrorXml(err.fault, code, message, requestId),
      };
    }
    const service = route.kind === 'json' ? route.service : undefined;
    const version = service ? service.jsonVersion : '1.1';
    // The front door's own errors (signature, routing, parsing) say `message` whatever the service.
    const member =
      err instanceof SigV4Error || FRONT_DOOR_ERRORS.has(err.code) ? 'message' : service?.errorMessageMember;
    return {
      status: err.status,
      headers: { 'content-type': `application/x-amz-json-${version}`, 'x-amzn-errortype': err.code },
      body: JSON.stringify({ __type: err.code, [member ?? 'message']: err.message }),
    };
  }
}

/** Errors the endpoint raises before a service sees the request. */
const FRONT_DOOR_ERRORS = new Set([
  'UnknownOperationException',
  'SerializationException',
  'RequestEntityTooLarge',
  'IncompleteBody',
  'InternalFailure',
]);

function labelOf(route: Route): string {
  if (route.kind === 'json') return route.target;
  if (route.kind === 'query') return `${route.service?.signingName ?? '-'}:${route.action || '-'}`;
  return '-';
}

function toAwsError(err: unknown, logger: LocalLogger, call: string): AwsError {
  if (err instanceof AwsError) return err;
  // A bug of ours: log where, never the request (it may hold a secret value).
  logger.error('internal error', {
    call,
    error: (err as Error)?.name,
    stack: (err as Error)?.stack?.split('\n')[1],
  });
  return internalFailure();
}

function send(res: http.ServerResponse, reply: Reply): void {
  const buf = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
  res.writeHead(reply.status, { ...reply.headers, 'content-length': String(buf.length) });
  res.end(buf);
}

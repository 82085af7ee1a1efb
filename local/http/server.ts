import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LocalLogger } from '../log';
import { AwsError, internalFailure } from './errors';
import type { JsonService, QueryService, RequestContext, ServiceRegistry } from './registry';
import { credentialScope, type ReceivedRequest, type SecretLookup, verifySigV4 } from './sigv4';
import { queryErrorXml, queryResponseXml } from './xml';

const MAX_BODY = 16 * 1024 * 1024;
export const HEALTH_PATH = '/_credflow/health';

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
  body: string;
}

type Route =
  | { kind: 'json'; service: JsonService | undefined; target: string; operation: string }
  | { kind: 'query'; service: QueryService | undefined; action: string; params: Record<string, string> }
  | { kind: 'unknown' };

export interface EndpointOptions {
  registry: ServiceRegistry;
  secretFor: SecretLookup;
  logger: LocalLogger;
}

/**
 * The one HTTP endpoint of the local cloud: reads the request, picks the protocol (X-Amz-Target
 * for JSON services, the `Action` form field for query services), checks SigV4, calls the
 * service and renders its result or error in that protocol's shape.
 */
export class HttpEndpoint {
  private readonly server: http.Server;
  /**
   * Read-only local views under `/_credflow/` (health, alerts): loopback only, unsigned, never
   * a secret value.
   */
  readonly localRoutes = new Map<string, () => unknown>();

  constructor(private readonly opts: EndpointOptions) {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.opts.logger.error('request handling failed', { error: (err as Error)?.name });
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    this.server.keepAliveTimeout = 5000;
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
    const started = Date.now();
    const requestId = randomUUID();
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === HEALTH_PATH) {
      return send(res, {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: '{"status":"running"}',
      });
    }
    const local = req.method === 'GET' ? this.localRoutes.get(url.pathname) : undefined;
    if (local) {
      return send(res, {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(local()),
      });
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;

    const route = this.route(headers, url, body);
    const label =
      route.kind === 'json'
        ? route.target
        : route.kind === 'query'
          ? `${route.service?.signingName}:${route.action}`
          : '-';
    let reply: Reply;
    try {
      const caller = await verifySigV4(
        {
          method: req.method ?? 'GET',
          path: safeDecode(url.pathname),
          query: queryOf(url),
          headers,
          body,
        } as ReceivedRequest,
        this.opts.secretFor,
      );
      const ctx: RequestContext = {
        requestId,
        accessKeyId: caller.accessKeyId,
        region: caller.region,
        signingService: caller.service,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      };
      reply = await this.dispatch(route, body, ctx);
    } catch (err) {
      reply = this.renderError(route, toAwsError(err, this.opts.logger, label), requestId);
    }
    reply.headers['x-amzn-requestid'] = requestId;
    send(res, reply);
    this.opts.logger.info('request', {
      requestId,
      call: label,
      status: reply.status,
      ...(reply.headers['x-amzn-errortype'] ? { error: reply.headers['x-amzn-errortype'] } : {}),
      ms: Date.now() - started,
    });
  }

  private route(headers: Record<string, string>, url: URL, body: Buffer): Route {
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
    const params: Record<string, string> = {};
    for (const [k, v] of url.searchParams) params[k] = v;
    if ((headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params[k] = v;
    }
    const action = params['Action'];
    if (action) {
      const scope = credentialScope(headers['authorization']);
      return {
        kind: 'query',
        service: this.opts.registry.queryService(action, scope?.service),
        action,
        params,
      };
    }
    return { kind: 'unknown' };
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
      try {
        input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      } catch {
        throw new AwsError('SerializationException', 'Start of structure or map found where not expected.');
      }
      if (input === null || typeof input !== 'object' || Array.isArray(input)) {
        throw new AwsError('SerializationException', 'Start of structure or map found where not expected.');
      }
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
      return {
        status: route.service?.statusFor?.(err) ?? err.status,
        headers: { 'content-type': 'text/xml' },
        body: queryErrorXml(err.fault, err.code, err.message, requestId),
      };
    }
    const version = route.kind === 'json' && route.service ? route.service.jsonVersion : '1.1';
    return {
      status: err.status,
      headers: { 'content-type': `application/x-amz-json-${version}`, 'x-amzn-errortype': err.code },
      body: JSON.stringify({ __type: err.code, message: err.message }),
    };
  }
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

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function queryOf(url: URL): Record<string, string | string[]> {
  const q: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const prev = q[k];
    q[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return q;
}

function safeDecode(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}

function send(res: http.ServerResponse, reply: Reply): void {
  const buf = Buffer.from(reply.body, 'utf8');
  res.writeHead(reply.status, { ...reply.headers, 'content-length': String(buf.length) });
  res.end(buf);
}

import type { AwsError } from './errors';

/** Who called and how, for handlers that record it (CloudTrail-shaped events). */
export interface RequestContext {
  requestId: string;
  accessKeyId: string;
  /** Region and service from the SigV4 credential scope. */
  region: string;
  signingService: string;
  sourceIp: string;
  userAgent: string;
  /** `X-Amz-Security-Token`: temporary credentials' session token, if the caller sent one. */
  securityToken?: string | undefined;
  /**
   * IAM, for a call that is authorized again per item (BatchGetSecretValue reads a secret only if
   * its caller may GetSecretValue it): AWS's denial message if this request's caller may not make
   * `operation` of the same service with `input`, else undefined. Absent when IAM is off.
   */
  denial?: ((operation: string, input: Record<string, unknown>) => string | undefined) | undefined;
}

export type JsonOperation = (input: Record<string, unknown>, ctx: RequestContext) => unknown;

/**
 * A service on the AWS JSON protocols, routed by `X-Amz-Target: <targetPrefix>.<Operation>`
 * (Secrets Manager: `secretsmanager`, EventBridge: `AWSEvents`, Step Functions: `AWSStepFunctions`).
 */
export interface JsonService {
  protocol: 'json';
  targetPrefix: string;
  /** The service name a SigV4 credential scope must carry (`secretsmanager`, `states`, `events`). */
  signingName: string;
  /**
   * The largest request body this service accepts, from its own documented limits; a larger one
   * is refused without being read.
   */
  maxRequestBytes: number;
  /** `1.0` or `1.1`: only the response content type differs. */
  jsonVersion: '1.0' | '1.1';
  /**
   * The member an error body carries its text in, as the service's model names it: `message`
   * (Step Functions, EventBridge; the default) or `Message` (Secrets Manager).
   */
  errorMessageMember?: 'message' | 'Message';
  /** Operation name -> handler. Returns the response object (Dates become epoch seconds). */
  operations: Readonly<Record<string, JsonOperation>>;
}

export type QueryParams = Readonly<Record<string, string>>;
export type QueryAction = (params: QueryParams, ctx: RequestContext) => unknown;

/**
 * A service on the AWS query protocol (form-encoded `Action=...&Version=...`, XML responses),
 * such as RDS or SNS. Several share the protocol, so a request goes to the service whose
 * `signingName` is in its SigV4 scope, or else to the one service declaring the action.
 */
export interface QueryService {
  protocol: 'query';
  signingName: string;
  /** As `JsonService.maxRequestBytes` (form-encoded: percent escapes can triple a value's size). */
  maxRequestBytes: number;
  /** The XML namespace of responses, e.g. `http://rds.amazonaws.com/doc/2014-10-31/`. */
  xmlNamespace: string;
  /**
   * Action -> handler. The handler returns the content of `<ActionResult>` as a plain object;
   * see `renderXml` for the mapping (an array repeats its key's element).
   */
  actions: Readonly<Record<string, QueryAction>>;
  /** The code of IAM's refusal on this service (`AccessDenied` by default; SNS says `AuthorizationError`). */
  accessDeniedCode?: string;
  /** HTTP status for an error code when it is not 400 (RDS answers DBInstanceNotFound with 404). */
  statusFor?(error: AwsError): number;
}

export type Service = JsonService | QueryService;

/** The services the endpoint answers for. Later issues register theirs without touching the core. */
export class ServiceRegistry {
  private readonly json = new Map<string, JsonService>();
  private readonly query: QueryService[] = [];

  register(service: Service): void {
    if (service.protocol === 'json') {
      if (this.json.has(service.targetPrefix))
        throw new Error(`target prefix taken: ${service.targetPrefix}`);
      this.json.set(service.targetPrefix, service);
    } else {
      if (this.query.some((s) => s.signingName === service.signingName)) {
        throw new Error(`query service already registered: ${service.signingName}`);
      }
      this.query.push(service);
    }
  }

  jsonService(targetPrefix: string): JsonService | undefined {
    return this.json.get(targetPrefix);
  }

  /** The query service for this request: by signing name first, else the one that has the action. */
  queryService(action: string, signingName: string | undefined): QueryService | undefined {
    const bySigning = this.querySigning(signingName);
    if (bySigning) return bySigning;
    const having = this.query.filter((s) => Object.hasOwn(s.actions, action));
    return having.length === 1 ? having[0] : undefined;
  }

  /** The query service a SigV4 scope names, if it names one. */
  querySigning(signingName: string | undefined): QueryService | undefined {
    return signingName ? this.query.find((s) => s.signingName === signingName) : undefined;
  }

  /** The body cap for a query request whose service is known only once its `Action` is read. */
  get maxQueryRequestBytes(): number {
    return Math.max(0, ...this.query.map((s) => s.maxRequestBytes));
  }

  get hasQueryServices(): boolean {
    return this.query.length > 0;
  }
}

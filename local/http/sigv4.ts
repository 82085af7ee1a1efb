import { createHash, createHmac, type Hash, type Hmac, timingSafeEqual } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { AwsError } from './errors';

/** The request as received, with lower-case header names. */
export interface ReceivedRequest {
  method: string;
  /** Path as sent, without the query string. */
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
  body: Buffer;
}

export interface VerifiedCaller {
  accessKeyId: string;
  region: string;
  service: string;
}

/** Looks up the secret for an access key id; undefined when the key is unknown. */
export type SecretLookup = (accessKeyId: string) => string | undefined;

/** What the credential scope must name: the cloud's region and the service the request goes to. */
export interface ScopeExpectation {
  region: string;
  /** The signing name of the service called; undefined accepts any (the local routes). */
  service?: string | undefined;
}

/** What the headers alone establish: checked before the body is read. */
export interface SigV4Claim {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  signingDate: Date;
  /** The hex SHA-256 the client claims for its body, when it sent `x-amz-content-sha256`. */
  payloadHash: string | undefined;
}

export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

const AUTH_RE =
  /^AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request\s*,\s*SignedHeaders=([a-z0-9;._-]+)\s*,\s*Signature=([0-9a-f]{64})\s*$/i;
const HEX_SHA256 = /^[0-9a-f]{64}$/i;

const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/**
 * A refused signature. The JSON protocols and the query protocol name the same failure
 * differently (`InvalidSignatureException` / `SignatureDoesNotMatch`), so it carries both.
 */
export class SigV4Error extends AwsError {
  constructor(
    code: string,
    message: string,
    readonly query: { code: string; message: string },
  ) {
    super(code, message, 403);
  }
}

export const missingAuth = () =>
  new SigV4Error('MissingAuthenticationTokenException', 'Missing Authentication Token', {
    code: 'MissingAuthenticationToken',
    message: 'Request is missing Authentication Token',
  });
const incomplete = (message: string) =>
  new SigV4Error('IncompleteSignatureException', message, { code: 'IncompleteSignature', message });
const unrecognizedClient = () => {
  const message = 'The security token included in the request is invalid.';
  return new SigV4Error('UnrecognizedClientException', message, { code: 'InvalidClientTokenId', message });
};
const badSignature = (message = SIGNATURE_MISMATCH) =>
  new SigV4Error('InvalidSignatureException', message, { code: 'SignatureDoesNotMatch', message });

function parseAmzDate(s: string | undefined): Date | undefined {
  const m = s ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s) : null;
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se] = m.map(Number) as [number, number, number, number, number, number, number];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, se));
}

/** The SigV4 scope of a request without verifying it (routing uses the service name). */
export function credentialScope(
  authorization: string | undefined,
): { region: string; service: string } | undefined {
  const m = authorization ? AUTH_RE.exec(authorization) : null;
  return m ? { region: m[3]!, service: m[4]! } : undefined;
}

/**
 * AWS's words for a credential scope that names the wrong region or service (every problem
 * in one message, each sentence ending with a space, as AWS writes them).
 */
export function scopeMismatch(
  scope: { region: string; service: string },
  expect: ScopeExpectation,
): SigV4Error | undefined {
  let message = '';
  if (scope.region !== expect.region)
    message += `Credential should be scoped to a valid region, not '${scope.region}'. `;
  if (expect.service !== undefined && scope.service !== expect.service)
    message += `Credential should be scoped to correct service: '${expect.service}'. `;
  return message ? badSignature(message) : undefined;
}

/**
 * Everything a request's headers can prove wrong, checked before a byte of its body is read:
 * the Authorization header's form, its scope (the cloud's region, the called service), the
 * access key, the date and its skew, and the payload hash's form (`UNSIGNED-PAYLOAD` is S3's
 * alone: these JSON and query services sign the body).
 */
export function checkSigV4Headers(
  headers: Readonly<Record<string, string>>,
  secretFor: SecretLookup,
  expect: ScopeExpectation,
  now: Date = new Date(),
): SigV4Claim {
  const authorization = headers['authorization'];
  if (!authorization) throw missingAuth();
  const m = AUTH_RE.exec(authorization);
  if (!m) {
    throw incomplete(
      `Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.`,
    );
  }
  const [, accessKeyId, shortDate, region, service, signedHeaderList, signature] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const amzDate = headers['x-amz-date'];
  if (amzDate === undefined) {
    throw incomplete(`Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.`);
  }
  const mismatch = scopeMismatch({ region, service }, expect);
  if (mismatch) throw mismatch;
  if (!amzDate.startsWith(shortDate)) {
    throw badSignature(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${shortDate}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
    );
  }
  const secretAccessKey = secretFor(accessKeyId);
  if (secretAccessKey === undefined) throw unrecognizedClient();

  const signingDate = parseAmzDate(amzDate);
  const signedHeaders = signedHeaderList.toLowerCase().split(';');
  if (!signingDate || !signedHeaders.includes('x-amz-date')) throw badSignature();
  if (!signedHeaders.includes('host')) {
    throw badSignature(`'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.`);
  }
  if (signedHeaders.some((name) => headers[name] === undefined)) throw badSignature();
  if (Math.abs(now.getTime() - signingDate.getTime()) > MAX_CLOCK_SKEW_MS) {
    throw badSignature(
      `Signature expired: ${amzDate} is now earlier than ${formatAmz(new Date(now.getTime() - MAX_CLOCK_SKEW_MS))} (${formatAmz(now)} - 15 min.)`,
    );
  }
  // AWS hashes the body it received whatever this header says, so for these services an
  // UNSIGNED-PAYLOAD signature can never match: refuse it now rather than after the body.
  const payloadHash = headers['x-amz-content-sha256'];
  if (payloadHash !== undefined && !HEX_SHA256.test(payloadHash)) throw badSignature();
  return {
    accessKeyId,
    secretAccessKey,
    region,
    service,
    signedHeaders,
    signature: signature.toLowerCase(),
    signingDate,
    payloadHash: payloadHash?.toLowerCase(),
  };
}

type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytes(data: SourceData): Buffer | string {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** SHA-256 / HMAC-SHA-256 on node:crypto, in the shape SignatureV4 wants (its pure-JS default is far slower). */
export class NodeSha256 {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(this.secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

/**
 * One signer per key and scope: SignatureV4 keeps the derived signing key of each day, so a
 * request does not derive it again (four HMACs). Bounded: keys and scopes are few.
 */
const signers = new Map<string, SignatureV4>();
function signerFor(
  accessKeyId: string,
  secretAccessKey: string,
  region: string,
  service: string,
): SignatureV4 {
  const key = JSON.stringify([accessKeyId, secretAccessKey, region, service]);
  let signer = signers.get(key);
  if (!signer) {
    if (signers.size >= 256) signers.clear();
    signer = new SignatureV4({
      credentials: { accessKeyId, secretAccessKey },
      region,
      service,
      sha256: NodeSha256,
      // Only what the client signed: never add a payload-hash header it did not send.
      applyChecksum: false,
    });
    signers.set(key, signer);
  }
  return signer;
}

/**
 * The second half of the check, once the body is in: rebuild the request from exactly the
 * headers the client listed in SignedHeaders, sign it again with the secret held for its access
 * key, and compare. Clients differ in what they sign (the SDK adds `amz-sdk-*`, the CLI signs
 * `content-type`), so nothing else may enter the canonical request.
 */
export async function verifySigV4Body(req: ReceivedRequest, claim: SigV4Claim): Promise<VerifiedCaller> {
  if (claim.payloadHash !== undefined) {
    const bodyHash = createHash('sha256').update(req.body).digest('hex');
    if (claim.payloadHash !== bodyHash) throw badSignature();
  }
  const headers: Record<string, string> = {};
  for (const name of claim.signedHeaders) {
    const value = req.headers[name];
    if (value === undefined) throw badSignature();
    headers[name] = value;
  }
  const resigned = await signerFor(
    claim.accessKeyId,
    claim.secretAccessKey,
    claim.region,
    claim.service,
  ).sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname: (headers['host'] ?? '').replace(/:\d+$/, ''),
      path: req.path,
      query: req.query,
      headers,
      body: req.body,
    },
    {
      signingDate: claim.signingDate,
      signableHeaders: new Set(claim.signedHeaders),
      signingRegion: claim.region,
      signingService: claim.service,
    },
  );
  const expected =
    /Signature=([0-9a-f]{64})/.exec(String(resigned.headers['authorization'] ?? ''))?.[1] ?? '';
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(claim.signature, 'utf8');
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw badSignature();
  return { accessKeyId: claim.accessKeyId, region: claim.region, service: claim.service };
}

/** Verifies a SigV4 `Authorization` header the way AWS does: headers first, then the signature over the body. */
export async function verifySigV4(
  req: ReceivedRequest,
  secretFor: SecretLookup,
  expect: ScopeExpectation,
  now: Date = new Date(),
): Promise<VerifiedCaller> {
  return verifySigV4Body(req, checkSigV4Headers(req.headers, secretFor, expect, now));
}

function formatAmz(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

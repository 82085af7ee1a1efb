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

export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

const AUTH_RE =
  /^AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request\s*,\s*SignedHeaders=([a-z0-9;._-]+)\s*,\s*Signature=([0-9a-f]{64})\s*$/i;

export const missingAuth = () =>
  new AwsError('MissingAuthenticationTokenException', 'Missing Authentication Token', 403);
const unrecognizedClient = () =>
  new AwsError('UnrecognizedClientException', 'The security token included in the request is invalid.', 403);
const badSignature = () =>
  new AwsError(
    'InvalidSignatureException',
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    403,
  );

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

type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytes(data: SourceData): Buffer | string {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** SHA-256 / HMAC-SHA-256 on node:crypto, in the shape SignatureV4 wants (its pure-JS default is far slower). */
class NodeSha256 {
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
 * Verifies a SigV4 `Authorization` header the way AWS does: rebuild the request from exactly
 * the headers the client listed in SignedHeaders, sign it again with the secret we hold for its
 * access key, and compare. Clients differ in what they sign (the SDK adds `amz-sdk-*`, the CLI
 * signs `content-type`), so nothing else may enter the canonical request.
 */
export async function verifySigV4(
  req: ReceivedRequest,
  secretFor: SecretLookup,
  now: Date = new Date(),
): Promise<VerifiedCaller> {
  const authorization = req.headers['authorization'];
  if (!authorization) throw missingAuth();
  const m = AUTH_RE.exec(authorization);
  if (!m) {
    throw new AwsError(
      'IncompleteSignatureException',
      `Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.`,
      403,
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
  const secretAccessKey = secretFor(accessKeyId);
  if (secretAccessKey === undefined) throw unrecognizedClient();

  const amzDate = req.headers['x-amz-date'];
  const signingDate = parseAmzDate(amzDate);
  const signed = signedHeaderList.toLowerCase().split(';');
  if (!signingDate || !signed.includes('x-amz-date') || !amzDate?.startsWith(shortDate)) throw badSignature();
  if (!signed.includes('host')) throw badSignature();
  if (Math.abs(now.getTime() - signingDate.getTime()) > MAX_CLOCK_SKEW_MS) {
    throw new AwsError(
      'InvalidSignatureException',
      `Signature expired: ${amzDate} is now earlier than ${formatAmz(new Date(now.getTime() - MAX_CLOCK_SKEW_MS))} (${formatAmz(now)} - 15 min.)`,
      403,
    );
  }

  const bodyHash = createHash('sha256').update(req.body).digest('hex');
  const claimed = req.headers['x-amz-content-sha256'];
  if (claimed !== undefined && claimed !== 'UNSIGNED-PAYLOAD' && claimed !== bodyHash) throw badSignature();

  const headers: Record<string, string> = {};
  for (const name of signed) {
    const value = req.headers[name];
    if (value === undefined) throw badSignature();
    headers[name] = value;
  }
  const resigned = await signerFor(accessKeyId, secretAccessKey, region, service).sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname: (headers['host'] ?? '').replace(/:\d+$/, ''),
      path: req.path,
      query: req.query,
      headers,
      body: req.body,
    },
    { signingDate, signableHeaders: new Set(signed), signingRegion: region, signingService: service },
  );
  const expected =
    /Signature=([0-9a-f]{64})/.exec(String(resigned.headers['authorization'] ?? ''))?.[1] ?? '';
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(signature.toLowerCase(), 'utf8');
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw badSignature();
  return { accessKeyId, region, service };
}

function formatAmz(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

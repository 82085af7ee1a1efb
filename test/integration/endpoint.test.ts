/**
 * The local cloud's one endpoint: SigV4 checks with AWS's error shapes, protocol routing, and
 * room for services later issues add (JSON by X-Amz-Target, query protocol by Action).
 */

import { Sha256 } from '@aws-crypto/sha256-js';
import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SignatureV4 } from '@smithy/signature-v4';
import { AwsError } from '../../local/http/errors';
import { queryList } from '../../local/http/xml';
import { awsError, type Harness, startLocalCloud } from '../support/cloud';

let h: Harness;

beforeAll(async () => {
  h = await startLocalCloud();
  h.cloud.services.register({
    protocol: 'json',
    targetPrefix: 'AWSFakeJson_20240101',
    signingName: 'fakejson',
    maxRequestBytes: 1024,
    jsonVersion: '1.0',
    operations: {
      Echo: (input, ctx) => ({ Echo: input['Say'], At: new Date(0), Service: ctx.signingService }),
    },
  });
  h.cloud.services.register({
    protocol: 'query',
    signingName: 'fakeq',
    maxRequestBytes: 1024,
    xmlNamespace: 'http://fakeq.amazonaws.com/doc/2014-10-31/',
    actions: {
      DescribeThings: (params) => ({
        Things: { Thing: queryList(params, 'Names.member').map((m) => ({ Name: m[''], Ok: true })) },
      }),
      FailHard: () => {
        throw new AwsError('ThingNotFoundFault', 'Thing <x> not found');
      },
    },
    statusFor: (e) => (e.code === 'ThingNotFoundFault' ? 404 : e.status),
  });
});
afterAll(async () => {
  await h?.stop();
});

interface RawRequest {
  target?: string;
  body: string;
  contentType?: string;
  service?: string;
  /** Signed along with the rest (e.g. x-amz-content-sha256). */
  headers?: Record<string, string>;
  secretAccessKey?: string;
  signingDate?: Date;
  tamper?: (r: { headers: Record<string, string>; body: string }) => void;
}

/** A hand-signed request, to exercise what the SDK would never send. */
async function raw(req: RawRequest): Promise<{ status: number; headers: Headers; text: string }> {
  const url = new URL(h.cloud.endpoint);
  const headers: Record<string, string> = {
    host: url.host,
    'content-type': req.contentType ?? 'application/x-amz-json-1.1',
  };
  if (req.target) headers['x-amz-target'] = req.target;
  Object.assign(headers, req.headers);
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: h.cloud.credentials.accessKeyId,
      secretAccessKey: req.secretAccessKey ?? h.cloud.credentials.secretAccessKey,
    },
    region: 'us-east-1',
    service: req.service ?? 'secretsmanager',
    sha256: Sha256,
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      headers,
      body: req.body,
    },
    req.signingDate ? { signingDate: req.signingDate } : {},
  );
  const out = { headers: { ...(signed.headers as Record<string, string>) }, body: req.body };
  req.tamper?.(out);
  delete out.headers['host'];
  const res = await fetch(h.cloud.endpoint, { method: 'POST', headers: out.headers, body: out.body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('SigV4', () => {
  it('a wrong secret key: InvalidSignatureException (403)', async () => {
    const bad = new SecretsManagerClient({
      ...h.cloud.clientConfig(),
      credentials: { accessKeyId: h.cloud.credentials.accessKeyId, secretAccessKey: 'not-the-secret' },
      maxAttempts: 1,
    });
    const e = await awsError(() => bad.send(new ListSecretsCommand({})), 'InvalidSignatureException');
    expect(e.$metadata?.httpStatusCode).toBe(403);
    expect(e.message).toMatch(/signature we calculated does not match/);
    bad.destroy();
  });

  it('an unknown access key: UnrecognizedClientException (403)', async () => {
    const stranger = new SecretsManagerClient({
      ...h.cloud.clientConfig(),
      credentials: { accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: 'whatever' },
      maxAttempts: 1,
    });
    const e = await awsError(() => stranger.send(new ListSecretsCommand({})), 'UnrecognizedClientException');
    expect(e.$metadata?.httpStatusCode).toBe(403);
    expect(e.message).toBe('The security token included in the request is invalid.');
    stranger.destroy();
  });

  it('an unsigned request: MissingAuthenticationTokenException in the AWS JSON error shape', async () => {
    const res = await fetch(h.cloud.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.ListSecrets' },
      body: '{}',
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
    expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await res.json()).toEqual({
      __type: 'MissingAuthenticationTokenException',
      message: 'Missing Authentication Token',
    });
  });

  it('a body changed after signing: InvalidSignatureException', async () => {
    const res = await raw({
      target: 'secretsmanager.ListSecrets',
      body: '{}',
      tamper: (r) => {
        r.body = '{"MaxResults":1}';
      },
    });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text).__type).toBe('InvalidSignatureException');
  });

  it('accepts 10 minutes of clock skew and refuses 20', async () => {
    const ok = await raw({
      target: 'secretsmanager.ListSecrets',
      body: '{}',
      signingDate: new Date(Date.now() - 10 * 60_000),
    });
    expect(ok.status).toBe(200);
    const late = await raw({
      target: 'secretsmanager.ListSecrets',
      body: '{}',
      signingDate: new Date(Date.now() + 20 * 60_000),
    });
    expect(late.status).toBe(403);
    expect(JSON.parse(late.text)).toMatchObject({
      __type: 'InvalidSignatureException',
      message: expect.stringMatching(/Signature expired/),
    });
  });

  it('refuses a scope naming another region, in AWS words (an SDK client set to eu-west-1)', async () => {
    const elsewhere = new SecretsManagerClient({
      ...h.cloud.clientConfig(),
      region: 'eu-west-1',
      maxAttempts: 1,
    });
    const e = await awsError(() => elsewhere.send(new ListSecretsCommand({})), 'InvalidSignatureException');
    expect(e.$metadata?.httpStatusCode).toBe(403);
    expect(e.message).toBe("Credential should be scoped to a valid region, not 'eu-west-1'. ");
    elsewhere.destroy();
  });

  it('refuses a scope naming another service than the one the request goes to', async () => {
    const json = await raw({ target: 'secretsmanager.ListSecrets', body: '{}', service: 'states' });
    expect(json.status).toBe(403);
    expect(JSON.parse(json.text)).toEqual({
      __type: 'InvalidSignatureException',
      message: "Credential should be scoped to correct service: 'secretsmanager'. ",
    });
    // A query request whose scope names no query service goes where its Action is; the scope
    // must name that service, in the query protocol's words.
    const query = await raw({
      body: 'Action=DescribeThings&Version=2014-10-31',
      contentType: 'application/x-www-form-urlencoded',
      service: 'secretsmanager',
    });
    expect(query.status).toBe(403);
    expect(query.text).toContain(
      '<Code>SignatureDoesNotMatch</Code><Message>Credential should be scoped to correct service: &apos;fakeq&apos;. </Message>',
    );
  });

  it('refuses UNSIGNED-PAYLOAD: only S3 takes it, these services sign their bodies', async () => {
    const res = await raw({
      target: 'secretsmanager.ListSecrets',
      body: '{}',
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text).__type).toBe('InvalidSignatureException');
  });

  it('checks only the headers the client signed: an extra unsigned header is fine', async () => {
    const res = await raw({
      target: 'secretsmanager.ListSecrets',
      body: '{}',
      tamper: (r) => {
        r.headers['x-unsigned-extra'] = 'anything';
      },
    });
    expect(res.status).toBe(200);
  });
});

describe('routing', () => {
  it('answers an unknown operation and malformed JSON as AWS does', async () => {
    const unknown = await raw({ target: 'secretsmanager.MakeCoffee', body: '{}' });
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.text).__type).toBe('UnknownOperationException');
    const bad = await raw({ target: 'secretsmanager.ListSecrets', body: '{not json' });
    expect(JSON.parse(bad.text).__type).toBe('SerializationException');
    const noTarget = await raw({ body: '{}' });
    expect(JSON.parse(noTarget.text).__type).toBe('UnknownOperationException');
  });

  it('routes another JSON service by its X-Amz-Target prefix, with epoch-second timestamps', async () => {
    const res = await raw({
      target: 'AWSFakeJson_20240101.Echo',
      body: '{"Say":"hi"}',
      contentType: 'application/x-amz-json-1.0',
      service: 'fakejson',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-amz-json-1.0');
    expect(JSON.parse(res.text)).toEqual({ Echo: 'hi', At: 0, Service: 'fakejson' });
  });

  it('routes a query-protocol service by Action and answers in XML', async () => {
    const res = await raw({
      body: 'Action=DescribeThings&Version=2014-10-31&Names.member.1=a&Names.member.2=b%26c',
      contentType: 'application/x-www-form-urlencoded; charset=utf-8',
      service: 'fakeq',
    });
    expect(res.status).toBe(200);
    expect(res.text).toContain('<DescribeThingsResponse xmlns="http://fakeq.amazonaws.com/doc/2014-10-31/">');
    expect(res.text).toContain(
      '<DescribeThingsResult><Things><Thing><Name>a</Name><Ok>true</Ok></Thing><Thing><Name>b&amp;c</Name><Ok>true</Ok></Thing></Things></DescribeThingsResult>',
    );
    expect(res.text).toMatch(/<ResponseMetadata><RequestId>[0-9a-f-]{36}<\/RequestId><\/ResponseMetadata>/);
  });

  it('answers query-protocol errors as an XML ErrorResponse, with the service status', async () => {
    const res = await raw({
      body: 'Action=FailHard&Version=2014-10-31',
      contentType: 'application/x-www-form-urlencoded',
      service: 'fakeq',
    });
    expect(res.status).toBe(404);
    expect(res.text).toContain(
      '<Error><Type>Sender</Type><Code>ThingNotFoundFault</Code><Message>Thing &lt;x&gt; not found</Message></Error>',
    );
    const unknown = await raw({
      body: 'Action=Nope&Version=1',
      contentType: 'application/x-www-form-urlencoded',
      service: 'fakeq',
    });
    expect(unknown.status).toBe(400);
    expect(unknown.text).toContain('<Code>InvalidAction</Code>');
    const unsigned = await fetch(h.cloud.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=DescribeThings&Version=2014-10-31',
    });
    expect(unsigned.status).toBe(403);
    expect(await unsigned.text()).toContain('<Code>MissingAuthenticationToken</Code>');
  });

  it('serves a health check without credentials', async () => {
    const res = await fetch(`${h.cloud.endpoint}/_credflow/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'running' });
  });

  it('listens on loopback only', () => {
    expect(h.cloud.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(h.cloud.clientConfig()).toEqual({
      endpoint: h.cloud.endpoint,
      region: 'us-east-1',
      credentials: h.cloud.credentials,
    });
  });
});

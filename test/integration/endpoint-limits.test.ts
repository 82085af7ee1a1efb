/**
 * The endpoint reads no body it is going to refuse: headers are checked first, and a body is
 * capped at the called service's own request limit, over raw HTTP (the SDK never sends these).
 */

import http from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { SignatureV4 } from '@smithy/signature-v4';
import { awsError, type Harness, startLocalCloud } from '../support/cloud';

let h: Harness;

beforeAll(async () => {
  h = await startLocalCloud();
});
afterAll(async () => {
  await h?.stop();
});

interface SignOptions {
  target?: string;
  contentType?: string;
  service?: string;
  region?: string;
  accessKeyId?: string;
  date?: Date;
  extra?: Record<string, string>;
}

/** Headers signed over an empty body: the headers alone pass or fail, whatever body follows. */
async function signedHeaders(o: SignOptions = {}): Promise<Record<string, string>> {
  const url = new URL(h.cloud.endpoint);
  const headers: Record<string, string> = {
    host: url.host,
    'content-type': o.contentType ?? 'application/x-amz-json-1.1',
    ...(o.target === undefined
      ? { 'x-amz-target': 'secretsmanager.ListSecrets' }
      : o.target
        ? { 'x-amz-target': o.target }
        : {}),
    ...o.extra,
  };
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: o.accessKeyId ?? h.cloud.credentials.accessKeyId,
      secretAccessKey: h.cloud.credentials.secretAccessKey,
    },
    region: o.region ?? h.cloud.region,
    service: o.service ?? 'secretsmanager',
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
      body: '',
    },
    o.date ? { signingDate: o.date } : {},
  );
  return { ...(signed.headers as Record<string, string>) };
}

interface Outcome {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Body bytes the client had handed to its socket when the answer came. */
  sent: number;
}

/**
 * POSTs `headers`, then streams up to `total` body bytes (none when 0) until the server answers.
 * Resolves with the answer; rejects if the connection fails before one, or if none comes in
 * `waitMs` (a server waiting for a body that is never sent).
 */
function post(headers: Record<string, string>, total: number, waitMs = 20_000): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const req = http.request(h.cloud.endpoint, { method: 'POST', headers, agent: false });
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    let answered = false;
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer within ${waitMs} ms (${sent} body bytes sent)`));
    }, waitMs);
    req.on('response', (res) => {
      answered = true;
      const sentThen = sent;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, sent: sentThen });
      });
    });
    req.on('error', (err) => {
      if (answered) return; // the server closing after its answer cuts our writes short
      clearTimeout(timer);
      reject(err);
    });
    const pump = () => {
      while (!answered && sent < total) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (!req.write(chunk.subarray(0, n))) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered && sent >= total && total > 0) req.end();
    };
    if (total > 0) pump();
    else req.flushHeaders();
  });
}

describe('headers are checked before the body is read', () => {
  const announced = { 'content-length': '100000' };

  it.each([
    [
      'no Authorization',
      async () => ({ host: new URL(h.cloud.endpoint).host }),
      'MissingAuthenticationTokenException',
    ],
    [
      'a garbled Authorization',
      async () => ({ ...(await signedHeaders()), authorization: 'AWS4-HMAC-SHA256 garbage' }),
      'IncompleteSignatureException',
    ],
    [
      'an unknown access key',
      () => signedHeaders({ accessKeyId: 'AKIAUNKNOWN000000000' }),
      'UnrecognizedClientException',
    ],
    [
      'a date 20 minutes off',
      () => signedHeaders({ date: new Date(Date.now() - 20 * 60_000) }),
      'InvalidSignatureException',
    ],
    ['a scope in another region', () => signedHeaders({ region: 'eu-west-1' }), 'InvalidSignatureException'],
    ['a scope for another service', () => signedHeaders({ service: 'states' }), 'InvalidSignatureException'],
    [
      'UNSIGNED-PAYLOAD',
      () => signedHeaders({ extra: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }),
      'InvalidSignatureException',
    ],
  ])(
    '%s: refused while the announced body is never sent, and the connection closed',
    async (_, headers, code) => {
      const out = await post(
        { ...(await headers()), 'content-type': 'application/x-amz-json-1.1', ...announced },
        0,
      );
      expect(out.status).toBe(403);
      expect(JSON.parse(out.body).__type).toBe(code);
      expect(out.headers['connection']).toBe('close');
    },
  );
});

describe('bodies are capped at the service request limits', () => {
  it('refuses an announced body over Secrets Manager cap before reading it (413, SDK and raw)', async () => {
    const e = await awsError(
      () => h.sm.send(new PutSecretValueCommand({ SecretId: 'any', SecretString: 'x'.repeat(600 * 1024) })),
      'RequestEntityTooLarge',
    );
    expect(e.$metadata?.httpStatusCode).toBe(413);
    const out = await post({ ...(await signedHeaders()), 'content-length': String(600 * 1024) }, 0);
    expect(out.status).toBe(413);
    expect(JSON.parse(out.body).__type).toBe('RequestEntityTooLarge');
    expect(out.headers['connection']).toBe('close');
  });

  it('stops reading a chunked body at the cap: 413, and most of a 64 MiB body never leaves the client', async () => {
    const total = 64 * 1024 * 1024;
    const out = await post({ ...(await signedHeaders()), 'transfer-encoding': 'chunked' }, total);
    expect(out.status).toBe(413);
    expect(out.sent).toBeLessThan(total / 2);
  });

  it('caps per service: Step Functions takes a body Secrets Manager refuses; RDS answers 413 in XML', async () => {
    const sfn = new SFNClient({ ...h.cloud.clientConfig(), maxAttempts: 1 });
    try {
      const big = JSON.stringify({ pad: 'x'.repeat(600 * 1024) });
      const e = await sfn
        .send(
          new StartExecutionCommand({
            stateMachineArn: `arn:aws:states:${h.cloud.region}:${h.cloud.accountId}:stateMachine:none`,
            input: big,
          }),
        )
        .then(
          () => undefined,
          (err: Error & { $metadata?: { httpStatusCode?: number } }) => err,
        );
      expect(e?.name).toBeDefined();
      expect(e?.name).not.toBe('RequestEntityTooLarge');
      expect(e?.$metadata?.httpStatusCode).not.toBe(413);
    } finally {
      sfn.destroy();
    }
    const rds = await post(
      {
        ...(await signedHeaders({
          target: '',
          service: 'rds',
          contentType: 'application/x-www-form-urlencoded',
        })),
        'content-length': String(2 * 1024 * 1024),
      },
      0,
    );
    expect(rds.status).toBe(413);
    expect(rds.body).toContain('<Code>RequestEntityTooLarge</Code>');
  });
});

describe('JSON nesting is bounded', () => {
  const deep = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

  it('a 120,000-deep StartExecution input is a ValidationException, not a stack overflow; 1,000 levels run', async () => {
    const sfn = new SFNClient({ ...h.cloud.clientConfig(), maxAttempts: 1 });
    try {
      const { stateMachineArn } = await sfn.send(
        new CreateStateMachineCommand({
          name: 'deep-input',
          roleArn: `arn:aws:iam::${h.cloud.accountId}:role/r`,
          definition: JSON.stringify({ StartAt: 'P', States: { P: { Type: 'Pass', End: true } } }),
        }),
      );
      const err = await awsError(
        () => sfn.send(new StartExecutionCommand({ stateMachineArn, input: `{"a":${deep(120_000)}}` })),
        'ValidationException',
      );
      expect(err.message).toBe(
        "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must be JSON nested at most 1000 levels deep",
      );
      expect((await sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions).toEqual([]);
      const input = `{"a":${deep(999)}}`;
      const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, input }));
      await h.cloud.stepFunctions.awaitIdle();
      const done = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      expect(done.status).toBe('SUCCEEDED');
      expect(done.output).toBe(input);
    } finally {
      sfn.destroy();
    }
  });

  it('a 120,000-deep PutEvents Detail fails its entry with ValidationException; the other entry goes through', async () => {
    const eb = new EventBridgeClient({ ...h.cloud.clientConfig(), maxAttempts: 1 });
    try {
      const out = await eb.send(
        new PutEventsCommand({
          Entries: [
            { Source: 'test.deep', DetailType: 'Deep', Detail: `{"a":${deep(120_000)}}` },
            { Source: 'test.deep', DetailType: 'Flat', Detail: '{"a":1}' },
          ],
        }),
      );
      expect(out.FailedEntryCount).toBe(1);
      expect(out.Entries?.[0]).toEqual({
        ErrorCode: 'ValidationException',
        ErrorMessage: 'Detail is nested deeper than 1000 levels.',
      });
      expect(out.Entries?.[1]?.EventId).toBeDefined();
    } finally {
      eb.destroy();
    }
  });

  it('a 120,000-deep request body is a ValidationException in the JSON protocol shape', async () => {
    const body = `{"Filters":${deep(120_000)}}`;
    const url = new URL(h.cloud.endpoint);
    const signer = new SignatureV4({
      credentials: h.cloud.credentials,
      region: h.cloud.region,
      service: 'secretsmanager',
      sha256: Sha256,
    });
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      headers: {
        host: url.host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'secretsmanager.ListSecrets',
      },
      body,
    });
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(h.cloud.endpoint, {
        method: 'POST',
        headers: signed.headers as Record<string, string>,
        agent: false,
      });
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({
      __type: 'ValidationException',
      Message:
        "1 validation error detected: Value at 'body' failed to satisfy constraint: Member must be JSON nested at most 1000 levels deep",
    });
  });
});

/**
 * `/_credflow/*`: loopback Hosts only (DNS rebinding), and only with the token `credflow up`
 * prints or a SigV4 signature; the health check says "running" and nothing else.
 */

import http from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { CreateTopicCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SignatureV4 } from '@smithy/signature-v4';
import { tokenCookie } from '../../local/http/local-guard';
import { type Harness, startLocalCloud } from '../support/cloud';

let h: Harness;
let port: number;

beforeAll(async () => {
  h = await startLocalCloud();
  port = Number(new URL(h.cloud.endpoint).port);
  const sns = new SNSClient({ ...h.cloud.clientConfig(), maxAttempts: 1 });
  const t = await sns.send(new CreateTopicCommand({ Name: 'alerts' }));
  await sns.send(new PublishCommand({ TopicArn: t.TopicArn, Subject: 'repair', Message: 'rolled back' }));
  sns.destroy();
});
afterAll(async () => {
  await h?.stop();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw GET (fetch cannot set Host), with whatever headers a test wants. */
function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        headers: { host: `127.0.0.1:${port}`, ...headers },
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const bearer = () => ({ authorization: `Bearer ${h.cloud.token}` });

async function sigv4(path: string, region = h.cloud.region): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    credentials: h.cloud.credentials,
    region,
    service: 'credflow',
    sha256: Sha256,
  });
  const [p, q] = path.split('?') as [string, string | undefined];
  const query = Object.fromEntries(new URLSearchParams(q ?? ''));
  const signed = await signer.sign({
    method: 'GET',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port,
    path: p,
    query,
    headers: { host: `127.0.0.1:${port}` },
  });
  return { ...(signed.headers as Record<string, string>) };
}

describe('the local routes', () => {
  it('answer the token, by header, cookie or query parameter', async () => {
    for (const headers of [bearer(), { cookie: `other=1; ${tokenCookie(h.cloud.token).split(';')[0]}` }]) {
      const res = await get('/_credflow/alerts', headers);
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(JSON.parse(res.body)).toEqual([
        expect.objectContaining({ subject: 'repair', message: 'rolled back' }),
      ]);
    }
    const byQuery = await get(`/_credflow/alerts?credflow_token=${h.cloud.token}`);
    expect(byQuery.status).toBe(200);
  });

  it('answer a SigV4 signature scoped to the cloud region, not one for another region', async () => {
    expect((await get('/_credflow/alerts', await sigv4('/_credflow/alerts'))).status).toBe(200);
    const elsewhere = await get('/_credflow/alerts', await sigv4('/_credflow/alerts', 'eu-west-1'));
    expect(elsewhere.status).toBe(401);
    expect(JSON.parse(elsewhere.body).message).toMatch(/scoped to a valid region/);
  });

  it('refuse a missing or wrong token with 401 and no data, even before saying whether a route exists', async () => {
    for (const headers of [
      {},
      { authorization: 'Bearer not-the-token' },
      { cookie: 'credflow_token=nope' },
    ]) {
      for (const path of ['/_credflow/alerts', '/_credflow/no-such-route']) {
        const res = await get(path, headers);
        expect(res.status).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer realm="credflow"');
        expect(JSON.parse(res.body).__type).toBe('Unauthorized');
        expect(res.body).not.toContain('rolled back');
      }
    }
    expect((await get('/_credflow/no-such-route', bearer())).status).toBe(404);
    const wrongQuery = await get('/_credflow/alerts?credflow_token=guess');
    expect(wrongQuery.status).toBe(401);
  });

  it("answer only loopback Hosts (DNS rebinding) and the console's own Origin, token or not", async () => {
    for (const host of [`localhost:${port}`, 'LOCALHOST', `[::1]:${port}`, '127.0.0.1']) {
      expect((await get('/_credflow/alerts', { ...bearer(), host })).status).toBe(200);
    }
    for (const host of [`attacker.example:${port}`, '127.0.0.2', `127.0.0.1.attacker.example:${port}`]) {
      const res = await get('/_credflow/alerts', { ...bearer(), host });
      expect(res.status).toBe(403);
      expect(JSON.parse(res.body).__type).toBe('ForbiddenHost');
      const health = await get('/_credflow/health', { host });
      expect(health.status).toBe(403);
    }
    const crossSite = await get('/_credflow/alerts', { ...bearer(), origin: 'http://attacker.example' });
    expect(crossSite.status).toBe(403);
    expect(JSON.parse(crossSite.body).__type).toBe('ForbiddenOrigin');
    expect((await get('/_credflow/alerts', { ...bearer(), origin: 'null' })).status).toBe(403);
    for (const origin of [`http://localhost:${port}`, `http://127.0.0.1:${port}`]) {
      expect((await get('/_credflow/alerts', { ...bearer(), origin })).status).toBe(200);
    }
    // Another page on this machine is another site: only the console's own origin passes.
    for (const origin of [
      'http://localhost:3000',
      `http://127.0.0.1:${port + 1}`,
      'http://127.0.0.1',
      `https://127.0.0.1:${port}`,
      `http://127.0.0.2:${port}`,
    ]) {
      const res = await get('/_credflow/alerts', { ...bearer(), origin });
      expect([origin, res.status]).toEqual([origin, 403]);
      expect(JSON.parse(res.body).__type).toBe('ForbiddenOrigin');
    }
  });

  it('issue a one-time login code to a token holder; the code works once', async () => {
    const issued = await get('/_credflow/login-code', bearer());
    expect(issued.status).toBe(200);
    const { code, expiresInSeconds } = JSON.parse(issued.body) as { code: string; expiresInSeconds: number };
    expect(expiresInSeconds).toBe(60);
    expect(code).not.toContain(h.cloud.token);
    // (The console trades a code for its cookie: test/e2e/up.test.ts, where the console is mounted.)
    expect((await get(`/_credflow/alerts?credflow_code=${code}`)).status).toBe(200);
    // Spent: the same code again is refused.
    expect((await get(`/_credflow/alerts?credflow_code=${code}`)).status).toBe(401);
    // The cookie or a code cannot mint more codes; no credentials at all get nothing.
    const cookie = { cookie: tokenCookie(h.cloud.token).split(';')[0] as string };
    expect((await get('/_credflow/login-code', cookie)).status).toBe(403);
    const second = JSON.parse((await get('/_credflow/login-code', bearer())).body).code as string;
    expect((await get(`/_credflow/login-code?credflow_code=${second}`)).status).toBe(403);
    expect((await get('/_credflow/login-code')).status).toBe(401);
  });

  it('keep the health check open on loopback, revealing nothing but that it runs', async () => {
    const res = await get('/_credflow/health');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: 'running' });
  });

  it('answer GET only, and read no body they refuse', async () => {
    expect((await get('/_credflow/alerts', bearer(), 'DELETE')).status).toBe(405);
    const refused = await new Promise<Answer>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/_credflow/alerts',
          method: 'POST',
          headers: { host: `127.0.0.1:${port}`, 'content-length': '1000000' },
          agent: false,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' }));
        },
      );
      req.on('error', reject);
      req.flushHeaders(); // the announced body is never sent: an answer proves it was not awaited
    });
    expect(refused.status).toBe(401);
    expect(refused.headers['connection']).toBe('close');
  });
});

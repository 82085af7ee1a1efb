/**
 * A hand-signed JSON request to the local cloud: what an SDK would never send (no
 * ClientRequestToken), and the raw error body an SDK would parse.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { LocalCloud } from '../../local/cloud';

export interface SignedResponse {
  status: number;
  body: Record<string, unknown>;
}

/** POSTs `body` to `target` (e.g. `secretsmanager.PutSecretValue`), signed with the cloud's keys. */
export async function signedJson(
  cloud: LocalCloud,
  service: string,
  target: string,
  body: unknown,
): Promise<SignedResponse> {
  const url = new URL(cloud.endpoint);
  const text = JSON.stringify(body);
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: cloud.credentials.accessKeyId,
      secretAccessKey: cloud.credentials.secretAccessKey,
    },
    region: cloud.region,
    service,
    sha256: Sha256,
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
    body: text,
  });
  const headers = { ...(signed.headers as Record<string, string>) };
  delete headers['host'];
  const res = await fetch(cloud.endpoint, { method: 'POST', headers, body: text });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

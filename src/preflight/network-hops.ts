/**
 * The preflight's hops to the database itself: DNS, TCP, TLS and the master login, each read as
 * a function inside the VPC sees it, with the change that would make it pass.
 */
import { tlsOptions } from '../engines/common';
import type { EngineFamily } from '../engines/types';
import { AuthenticationError, TransientError } from '../errors';
import { DeadlineError, probeTcp, probeTls, resolveHost, ServerRefusal, type TlsFinding } from './probes';
import { failed, type Outcome, ok, skipped, type Target } from './types';

/** The path Lambda's Node.js runtimes document for the CA bundle that includes RDS's CAs. */
export const LAMBDA_CA_BUNDLE = '/var/runtime/ca-cert.pem';

const codeOf = (err: unknown) => (err as { code?: string }).code;

export async function dnsHop(t: Target, ms: number): Promise<Outcome> {
  if (!t.host) return skipped('no endpoint to resolve: RDS described none and none was given');
  try {
    const r = await resolveHost(t.host, ms);
    t.address = r.addresses[0];
    return ok(r.literal ? `${t.host} is an IP address` : `${t.host} resolves to ${r.addresses.join(', ')}`);
  } catch (err) {
    if (codeOf(err) === 'ENOTFOUND') {
      return failed(
        `${t.host} does not resolve (ENOTFOUND)`,
        'check the endpoint name; inside a VPC, name resolution needs the VPC attributes enableDnsSupport and enableDnsHostnames',
      );
    }
    return failed(
      `${t.host}: ${err instanceof DeadlineError ? err.message : (codeOf(err) ?? (err as Error).message)}`,
      "the VPC's DNS resolver did not answer: check enableDnsSupport and the subnets' DHCP options",
    );
  }
}

export async function tcpHop(t: Target, ms: number): Promise<Outcome> {
  if (!t.address || !t.port) return skipped('no address to connect to (DNS failed or no port known)');
  const where = `${t.host}:${t.port}`;
  try {
    await probeTcp(t.address, t.port, ms);
    return ok(`connected to ${where}${t.address !== t.host ? ` (${t.address})` : ''}`);
  } catch (err) {
    const code = codeOf(err);
    if (code === 'ECONNREFUSED') {
      let fix = 'is the database running and listening on this port?';
      if (t.status && t.status !== 'available') {
        fix = `${t.identifier} is ${t.status}: start it (aws rds start-db-${t.kind ?? 'instance'} --db-${t.kind ?? 'instance'}-identifier ${t.identifier})`;
      } else if (t.describedPort && t.describedPort !== t.port) {
        fix = `RDS says ${t.identifier} listens on ${t.describedPort}, not ${t.port}: fix the port (the secret's port key, or --port)`;
      }
      return failed(`${where} refused the connection: nothing listens there`, fix);
    }
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
      return failed(
        `no route to ${where} (${code})`,
        "the functions' subnets have no route to the database's network: put them in its VPC, or route through peering or a transit gateway",
      );
    }
    if (err instanceof DeadlineError || code === 'ETIMEDOUT') {
      return failed(
        `no answer from ${where} within ${ms} ms: packets are dropped`,
        `a security group or network ACL blocks ${t.port}: the database's security group needs an inbound rule for TCP ${t.port} from the functions' security group (--param securityGroupIds), and the subnets' network ACLs must allow the traffic both ways`,
      );
    }
    return failed(`${where}: ${code ?? (err as Error).message}`);
  }
}

function certificate(f: Extract<TlsFinding, { offered: true }>): string {
  return `certificate ${f.subject ?? '?'} issued by ${f.issuer ?? '?'}`;
}

/** Why a certificate did not verify, and what would make it. */
function untrusted(t: Target, f: Extract<TlsFinding, { offered: true }>): Outcome {
  const reason = f.authorizationError ?? 'not verified';
  const detail = `certificate not trusted (${reason}): ${certificate(f)}`;
  if (reason === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return failed(
      detail,
      `the certificate does not name ${t.host}: connect with the endpoint name RDS gives, not an IP address, CNAME or tunnel`,
    );
  }
  if (reason === 'CERT_HAS_EXPIRED') {
    return failed(
      `${detail}, valid to ${f.validTo ?? '?'}`,
      "the server's certificate expired: move the database to a current RDS certificate authority (ModifyDBInstance CACertificateIdentifier)",
    );
  }
  return failed(
    detail,
    `the function does not trust the server's CA: set NODE_EXTRA_CA_CERTS=${LAMBDA_CA_BUNDLE} (serverless.yml does on every function that logs in to a database) or point it at the RDS CA bundle`,
  );
}

export async function tlsHop(t: Target, family: EngineFamily | undefined, ms: number): Promise<Outcome> {
  if (!t.address || !t.port || !t.host) return skipped('no connection to negotiate TLS on');
  if (!family) return skipped('engine unknown: RDS described none and none was given');
  if (t.master?.ssl === false)
    return skipped('the master secret says ssl: false: credflow connects without TLS');
  // The same trust the engines apply to this host, so the verdict is theirs.
  const trust = tlsOptions({});
  let f: TlsFinding;
  try {
    f = await probeTls(family, { host: t.host, address: t.address, port: t.port }, ms, trust.ca);
  } catch (err) {
    if (err instanceof ServerRefusal) {
      return failed(
        err.message,
        /blocked/i.test(err.message)
          ? 'the server blocked this host after failed connections: FLUSH HOSTS'
          : undefined,
      );
    }
    return failed(`TLS with ${t.host}:${t.port}: ${codeOf(err) ?? (err as Error).message}`);
  }
  if (!f.offered) {
    return failed(
      `${t.host}:${t.port} offers no TLS`,
      'RDS always offers TLS, so this is not the RDS endpoint or something in between strips it; credflow never sends a password in the clear off loopback unless the secret says ssl: false',
    );
  }
  const session = `${f.protocol} ${f.cipher}`;
  if (f.authorized) return ok(`${session}; ${certificate(f)} verifies`);
  return untrusted(t, f);
}

/** The master login, with the engine the workflows use. */
export async function loginHop(
  t: Target,
  login: (creds: {
    host: string;
    port: number;
    username: string;
    password: string;
    ssl: boolean | undefined;
  }) => Promise<{ user: string; tls: boolean; serverVersion: string } | undefined>,
): Promise<Outcome> {
  if (!t.master) return skipped('no master credentials (the Secrets Manager hop did not read them)');
  if (!t.host || !t.port) return skipped('no endpoint to log in to');
  try {
    const s = await login({ host: t.host, port: t.port, ...t.master });
    return ok(
      s
        ? `logged in as ${s.user} (${s.tls ? 'TLS' : 'no TLS'}, server ${s.serverVersion})`
        : `logged in as ${t.master.username}`,
    );
  } catch (err) {
    const message = (err as Error).message;
    if (err instanceof AuthenticationError) {
      return failed(
        `the master secret's password is refused: ${message}`,
        'the password was changed outside Secrets Manager: have RDS set a new one (credflow rotate-master <db>, ModifyDBInstance RotateMasterUserPassword)',
      );
    }
    if (err instanceof DeadlineError || err instanceof TransientError) {
      return failed(
        message,
        'the server did not complete the login: is it overloaded, restarting, or out of connections?',
      );
    }
    return failed(message);
  }
}

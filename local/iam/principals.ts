/**
 * Who may call the local cloud, and with which policies: the administrator whose keys
 * `credflow up` prints, each role of the stack (a function signs with temporary credentials of its
 * own role, a state machine calls as its role), and the principals operators make with their own
 * policies (`credflow iam create-principal`), kept in the state dir beside the credentials.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { LocalCredentials } from '../credentials';
import { writeFileAtomic } from '../store/files';
import { assemblePolicySet, type CompiledPolicy, type CompiledPolicySet, compilePolicy } from './evaluate';
import type { StackIam, TemplatePolicy } from './template';
import type { NamedPolicy, PolicyDocument, Principal } from './types';

export const PRINCIPALS_FILE = 'principals.json';
const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A caller the endpoint knows: its key, its identity and its identity-based policies, compiled. */
export interface KnownPrincipal {
  principal: Principal;
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials carry a session token, which every request must present. */
  sessionToken?: string | undefined;
  /** The identity-based policies, compiled once (no resource policy). */
  identity: CompiledPolicySet;
  compiled: readonly CompiledPolicy[];
}

export interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

/** An operator-made principal as stored (0600) in the state dir: a user with keys, or a role. */
interface StoredPrincipal {
  name: string;
  /** A role (assumed by a state machine or a rule target that names it): no keys. */
  role?: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  /** Inline policy documents. */
  policies: NamedPolicy[];
  /** Managed policies of the stack by logical id (ProtectCredflowBindingTagsPolicy). */
  managed: string[];
  /** A role's trust policy; a role stored without one trusts the services that assume roles here. */
  trust?: PolicyDocument;
}

/**
 * The trust of a role made without one: Step Functions and EventBridge (the two services of the
 * local cloud that assume a role a caller names), as `credflow iam create-principal --role` made
 * roles before it took `--trust`.
 */
export function serviceTrust(services: readonly string[]): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: [...services] }, Action: 'sts:AssumeRole' }],
  };
}
const DEFAULT_ROLE_TRUST = serviceTrust(['states.amazonaws.com', 'events.amazonaws.com']);

export const ADMIN_USER = 'credflow-admin';

/** AWS's AdministratorAccess. */
const ADMINISTRATOR_ACCESS: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
};

function keyId(prefix: 'AKIA' | 'ASIA'): string {
  let id = prefix;
  while (id.length < 20) id += KEY_ALPHABET[randomInt(KEY_ALPHABET.length)];
  return id;
}
const secretKey = () => randomBytes(30).toString('base64').replace(/[+/]/g, 'x').slice(0, 40);

export class PrincipalError extends Error {
  override name = 'PrincipalError' as const;
}

export class Principals {
  private readonly byKey = new Map<string, KnownPrincipal>();
  /** Role logical id -> its compiled policies (a role's sessions share them). */
  private readonly roleSets = new Map<string, { compiled: CompiledPolicy[]; set: CompiledPolicySet }>();
  private fileStamp = '';
  private readonly adminKey: string;
  /** Keys of the operator-made principals, re-read with their file. */
  private readonly stored = new Set<string>();
  /** Operator-made roles: ARN -> their policies, compiled, and their trust policy. */
  private readonly storedRoles = new Map<
    string,
    { compiled: CompiledPolicy[]; set: CompiledPolicySet; trust: PolicyDocument }
  >();
  /** Temporary credentials issued to the stack's roles: key -> the role and session. */
  private readonly issued = new Map<string, { roleId: string; session: string }>();

  constructor(
    private readonly o: { stateDir: string; accountId: string; stack: StackIam | undefined },
    admin: LocalCredentials,
  ) {
    this.adminKey = admin.accessKeyId;
    this.add(
      { arn: `arn:aws:iam::${o.accountId}:user/${ADMIN_USER}`, accountId: o.accountId, kind: 'user' },
      admin.accessKeyId,
      admin.secretAccessKey,
      undefined,
      [{ name: 'arn:aws:iam::aws:policy/AdministratorAccess', document: ADMINISTRATOR_ACCESS }],
    );
    this.reload();
  }

  get stack(): StackIam | undefined {
    return this.o.stack;
  }

  /** The stack deployed: its roles become principals, its managed policies attachable. */
  useStack(stack: StackIam): void {
    this.o.stack = stack;
    this.roleSets.clear();
    this.fileStamp = '';
    this.reload();
    // Credentials already issued to a role (a function's) now carry the role's new policies, as
    // a changed role's policies apply at once on AWS to sessions already running.
    for (const [key, { roleId, session }] of this.issued) {
      const known = this.byKey.get(key);
      if (!known) continue;
      const p = this.roleSession(roleId, session);
      this.byKey.set(key, { ...known, identity: p.identity, compiled: p.compiled });
    }
  }

  /** Is this the administrator's key (the one `credflow up` prints)? */
  isAdmin(accessKeyId: string): boolean {
    return accessKeyId === this.adminKey;
  }

  /** The caller behind an access key id (operator-made principals are re-read when their file changed). */
  lookup(accessKeyId: string): KnownPrincipal | undefined {
    const known = this.byKey.get(accessKeyId);
    if (known) return known;
    if (this.reload()) return this.byKey.get(accessKeyId);
    return undefined;
  }

  /** The stack's role by logical id, as a principal for a session named `session`. */
  roleSession(roleId: string, session: string): KnownPrincipal {
    const role = this.o.stack?.roles.get(roleId);
    if (!role) throw new PrincipalError(`no role ${roleId} in the stack`);
    let sets = this.roleSets.get(roleId);
    if (!sets) {
      const compiled = role.policies.map((p: TemplatePolicy) => compilePolicy(p));
      sets = { compiled, set: assemblePolicySet({ identity: compiled }) };
      this.roleSets.set(roleId, sets);
    }
    return {
      principal: {
        arn: `arn:aws:sts::${this.o.accountId}:assumed-role/${role.name}/${session}`,
        accountId: this.o.accountId,
        kind: 'assumed-role',
        roleArn: role.arn,
      },
      accessKeyId: '',
      secretAccessKey: '',
      identity: sets.set,
      compiled: sets.compiled,
    };
  }

  /** The stack's role with this ARN, as a principal for a session named `session`; undefined if none. */
  roleSessionByArn(roleArn: string, session: string): KnownPrincipal | undefined {
    for (const [id, role] of this.o.stack?.roles ?? [])
      if (role.arn === roleArn) return this.roleSession(id, session);
    this.reload();
    const made = this.storedRoles.get(roleArn);
    if (!made) return undefined;
    return {
      principal: {
        arn: `arn:aws:sts::${this.o.accountId}:assumed-role/${roleArn.split('/').pop()}/${session}`,
        accountId: this.o.accountId,
        kind: 'assumed-role',
        roleArn,
      },
      accessKeyId: '',
      secretAccessKey: '',
      identity: made.set,
      compiled: made.compiled,
    };
  }

  /** The trust policy of a role by ARN (the stack's or an operator-made one); undefined if no such role. */
  trustOf(roleArn: string): PolicyDocument | undefined {
    for (const role of this.o.stack?.roles.values() ?? []) if (role.arn === roleArn) return role.trust;
    this.reload();
    return this.storedRoles.get(roleArn)?.trust;
  }

  /**
   * Temporary credentials of a role for a session (a function: its name), as Lambda puts them in
   * a function's environment. They live as long as this cloud runs.
   */
  issueRoleCredentials(roleId: string, session: string): TemporaryCredentials {
    const p = this.roleSession(roleId, session);
    const creds = {
      accessKeyId: keyId('ASIA'),
      secretAccessKey: secretKey(),
      sessionToken: randomBytes(48).toString('base64'),
    };
    this.byKey.set(creds.accessKeyId, { ...p, ...creds });
    this.issued.set(creds.accessKeyId, { roleId, session });
    return creds;
  }

  /**
   * Makes an IAM user with its own policies (inline documents and the stack's managed policies by
   * logical id) and an access key; kept in the state dir, so a running cloud accepts it at once.
   */
  static create(
    stateDir: string,
    name: string,
    policies: { documents?: PolicyDocument[]; managed?: string[]; role?: boolean; trust?: PolicyDocument },
    stack?: StackIam,
  ): { accessKeyId: string; secretAccessKey: string } {
    if (!/^[\w+=,.@-]{1,64}$/.test(name)) throw new PrincipalError(`invalid principal name: ${name}`);
    if (name === ADMIN_USER) throw new PrincipalError(`${name} is the administrator`);
    const documents = (policies.documents ?? []).map((document, i) => ({
      name: `${name}/inline-${i}`,
      document,
    }));
    // A document IAM would refuse is refused now, not at the first call.
    for (const d of documents) compilePolicy(d);
    if (policies.trust && !policies.role) throw new PrincipalError('a trust policy is for a role (--role)');
    if (policies.trust) compilePolicy({ name: `${name}/trust`, document: policies.trust });
    for (const m of policies.managed ?? [])
      if (stack && !stack.managedPolicies.has(m))
        throw new PrincipalError(`no managed policy ${m} in the stack`);
    const file = path.join(stateDir, PRINCIPALS_FILE);
    const all = readStored(file);
    if (all.some((p) => p.name === name)) throw new PrincipalError(`principal ${name} exists`);
    const keys = policies.role
      ? { accessKeyId: '', secretAccessKey: '' }
      : { accessKeyId: keyId('AKIA'), secretAccessKey: secretKey() };
    all.push({
      name,
      ...(policies.role ? { role: true } : {}),
      ...keys,
      policies: documents,
      managed: policies.managed ?? [],
      ...(policies.trust ? { trust: policies.trust } : {}),
    });
    writeFileAtomic(file, `${JSON.stringify(all, null, 2)}\n`, 0o600);
    return keys;
  }

  private add(
    principal: Principal,
    accessKeyId: string,
    secretAccessKey: string,
    sessionToken: string | undefined,
    policies: NamedPolicy[],
  ): void {
    const compiled = policies.map((p) => compilePolicy(p));
    this.byKey.set(accessKeyId, {
      principal,
      accessKeyId,
      secretAccessKey,
      sessionToken,
      identity: assemblePolicySet({ identity: compiled }),
      compiled,
    });
  }

  /** Re-reads the operator-made principals when their file changed; true if it did. */
  private reload(): boolean {
    const file = path.join(this.o.stateDir, PRINCIPALS_FILE);
    let stamp = '';
    try {
      const st = statSync(file);
      stamp = `${st.mtimeMs}:${st.size}`;
    } catch {
      return false;
    }
    if (stamp === this.fileStamp) return false;
    this.fileStamp = stamp;
    for (const p of readStored(file)) {
      if (this.byKey.has(p.accessKeyId) && !this.stored.has(p.accessKeyId)) continue;
      // A managed policy of a stack not deployed yet grants nothing (and denies nothing) until it is.
      const managed = p.managed.flatMap((id) => {
        const m = this.o.stack?.managedPolicies.get(id);
        return m ? [{ name: m.arn, document: m.document }] : [];
      });
      if (p.role) {
        const compiled = [...p.policies, ...managed].map((x) => compilePolicy(x));
        this.storedRoles.set(`arn:aws:iam::${this.o.accountId}:role/${p.name}`, {
          compiled,
          set: assemblePolicySet({ identity: compiled }),
          trust: p.trust ?? DEFAULT_ROLE_TRUST,
        });
        continue;
      }
      this.stored.add(p.accessKeyId);
      this.add(
        { arn: `arn:aws:iam::${this.o.accountId}:user/${p.name}`, accountId: this.o.accountId, kind: 'user' },
        p.accessKeyId,
        p.secretAccessKey,
        undefined,
        [...p.policies, ...managed],
      );
    }
    return true;
  }
}

function readStored(file: string): StoredPrincipal[] {
  if (!existsSync(file)) return [];
  const all = JSON.parse(readFileSync(file, 'utf8')) as StoredPrincipal[];
  if (!Array.isArray(all)) throw new PrincipalError(`${file} is not a principals file`);
  return all;
}

import { TagResourceCommand, UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { aws } from '../aws/errors';
import type { Deps } from '../deps';
import { engineFor as defaultEngineFor } from '../engines';
import { ValidationError } from '../errors';
import { assertSameTarget } from '../rotation/boundary';
import { tokenFromExecutionName } from '../rotation/input';
import { credentialsOf } from '../rotation/master';
import { finishSecret, logsIn } from '../rotation/steps';
import { resolveStrategy } from '../rotation/strategies';
import { STATUS_SINCE_TAG, STATUS_TAG, statusSince } from '../rotation/types';
import { describeState, readVersion } from '../rotation/versions';
import { type DbSecret, parseDbSecret } from '../secret';
import { parser } from '../validate';

export type RepairAction = 'roll-forward' | 'roll-back' | 'none';

export interface Diagnosis {
  secretArn: string;
  pendingVersionId?: string | undefined;
  pendingWorks: boolean;
  currentWorks: boolean;
  action: RepairAction;
  /** critical: after the repair, AWSCURRENT still does not log in; a person must look. */
  severity: 'info' | 'warning' | 'critical';
  /** What the event said went wrong (never a secret value). */
  reason: string;
  alertTopicArn?: string | undefined;
}

const cloudTrailRotation = z.object({
  source: z.literal('aws.secretsmanager'),
  detail: z.object({
    eventName: z.string(),
    additionalEventData: z.object({ SecretId: z.string().min(1) }).optional(),
    requestParameters: z
      .object({ secretId: z.string().min(1) })
      .partial()
      .nullish(),
  }),
});
const executionStatus = z.object({
  source: z.literal('aws.states'),
  detail: z.object({
    status: z.string(),
    input: z.string().nullish(),
    executionArn: z.string().optional(),
    name: z.string().optional(),
    cause: z.string().nullish(),
    error: z.string().nullish(),
  }),
});
const direct = z.object({ secretId: z.string().min(1) });
/** A repair asked for by name (the reconciler, an operator): the version and why are optional. */
const requested = direct.extend({
  token: z.string().min(32).max(64).optional(),
  reason: z.string().min(1).max(512).optional(),
});

/** What a failure event says: which secret, why, and (when known) the token of the failed rotation. */
export interface RotationFailure {
  secretId: string;
  reason: string;
  token?: string;
}

/**
 * Parses on-rotation-failure's input: a Secrets Manager rotation event, a failed rotate-secret
 * execution, or `{secretId}`; ValidationError for anything else.
 */
export function parseFailureEvent(event: unknown): RotationFailure {
  const sm = cloudTrailRotation.safeParse(event);
  if (sm.success) {
    const id = sm.data.detail.additionalEventData?.SecretId ?? sm.data.detail.requestParameters?.secretId;
    if (id) return { secretId: id, reason: `Secrets Manager reported ${sm.data.detail.eventName}` };
  }
  const sf = executionStatus.safeParse(event);
  if (sf.success && sf.data.detail.input) {
    let input: unknown;
    try {
      input = JSON.parse(sf.data.detail.input);
    } catch {
      input = undefined;
    }
    const inner = direct
      .extend({ token: z.string().min(32).max(64).optional() })
      .safeParse((input as { request?: unknown } | undefined)?.request ?? input);
    if (inner.success) {
      const why = sf.data.detail.error ? `: ${sf.data.detail.error}` : '';
      const { secretId, token } = inner.data;
      const name = sf.data.detail.name;
      // The version that execution rotated in, by the same rule its steps used.
      const own = token ?? (name ? tokenFromExecutionName(secretId, name) : undefined);
      return {
        secretId,
        reason: `rotate-secret execution ${sf.data.detail.status}${why}`,
        ...(own ? { token: own } : {}),
      };
    }
  }
  const d = requested.safeParse(event);
  if (d.success) {
    const { secretId, token, reason } = d.data;
    return { secretId, reason: reason ?? 'repair requested', ...(token ? { token } : {}) };
  }
  throw new ValidationError(
    'on-rotation-failure: the event names no secret (expected a Secrets Manager rotation event, a rotate-secret execution status change, or {secretId})',
  );
}

/**
 * DiagnoseRotation: which of AWSPENDING and AWSCURRENT log in. A pending password that works
 * is on the server already, so promoting it is the repair; one that does not work was never
 * set, so removing the label is.
 */
export async function diagnoseRotation(deps: Deps, failure: RotationFailure): Promise<Diagnosis> {
  const alertTopicArn = deps.alertTopicArn;
  const { secretId, reason, token } = failure;
  const state = await describeState(deps.secrets, secretId);
  const currentRaw = await readVersion(deps.secrets, state.arn, { VersionId: state.currentVersionId });
  const current = parseDbSecret(currentRaw, `AWSCURRENT of ${state.arn}`);
  const engine = (deps.engineFor ?? defaultEngineFor)(current.engine);
  const currentWorks = await logsIn(engine, credentialsOf(current));
  // A pending version that another, still running rotation put there is not ours to repair.
  const ours = token === undefined || token === state.pendingVersionId;
  const pendingId = state.pendingVersionId && ours ? state.pendingVersionId : undefined;
  // finishSecret cut between moving AWSCURRENT and taking AWSPENDING off: the pending version
  // is the current one, and either repair takes the leftover label off.
  const halfFinished = pendingId !== undefined && pendingId === state.currentVersionId;
  let pendingWorks = halfFinished && currentWorks;
  if (pendingId && !halfFinished) {
    const raw = await readVersion(deps.secrets, state.arn, {
      VersionId: pendingId,
      VersionStage: 'AWSPENDING',
    });
    if (raw !== undefined) {
      let pending: DbSecret | undefined;
      try {
        pending = parseDbSecret(raw, `AWSPENDING of ${state.arn}`);
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err; // unreadable: never worked, roll back
      }
      if (pending) {
        // Before any login: a pending value pointing at another server must not be tried (a
        // server its writer runs would accept it) and so never be promoted.
        assertSameTarget(current, pending, `AWSPENDING of ${state.arn}`);
        try {
          pendingWorks = await logsIn(engine, credentialsOf(pending));
        } catch (err) {
          if (!(err instanceof ValidationError)) throw err;
        }
      }
    }
  }
  const action: RepairAction = !pendingId ? 'none' : pendingWorks ? 'roll-forward' : 'roll-back';
  const worksAfter = action === 'roll-forward' ? pendingWorks : currentWorks;
  const diagnosis: Diagnosis = {
    secretArn: state.arn,
    ...(pendingId ? { pendingVersionId: pendingId } : {}),
    pendingWorks,
    currentWorks,
    action,
    severity: !worksAfter ? 'critical' : action === 'none' ? 'info' : 'warning',
    reason,
    ...(alertTopicArn ? { alertTopicArn } : {}),
  };
  deps.logger.info('DiagnoseRotation', { ...diagnosis });
  deps.metrics?.put('RotationFailed', 1, {
    engine: current.engine,
    strategy: resolveStrategy({}, state.tags, current.masterarn !== undefined).name,
  });
  return diagnosis;
}

const diagnosisSchema = z.object({
  secretArn: z.string().min(1),
  pendingVersionId: z.string().min(32).max(64).optional(),
  action: z.enum(['roll-forward', 'roll-back', 'none']),
  severity: z.enum(['info', 'warning', 'critical']),
  reason: z.string(),
  pendingWorks: z.boolean(),
  currentWorks: z.boolean(),
  alertTopicArn: z.string().optional(),
});

/**
 * The secret's status after a repair, as its `credflow:rotation-status` tag, the CLI and the
 * console show it: `broken` when AWSCURRENT does not log in (a person must act), else what the
 * repair did.
 */
export type RepairStatus = 'broken' | 'rolled-forward' | 'rolled-back' | 'ok';

export interface RepairResult extends Diagnosis {
  outcome: 'rolled-forward' | 'rolled-back' | 'nothing-to-repair';
  status: RepairStatus;
  /** The secret's name (from its ARN), for people. */
  secretName: string;
  /** The alert's subject: what the operator must do, if anything (at most 100 characters, as SNS wants). */
  subject: string;
  /** The alert text: what happened and what was done, never a secret value. */
  message: string;
}

const SECRET_ARN = /^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(.+)-[A-Za-z0-9]{6}$/;

/** A secret's name from its ARN (Secrets Manager appends six random characters). */
export function secretNameOf(arn: string): string {
  return SECRET_ARN.exec(arn)?.[1] ?? arn;
}

/** SNS takes a subject of at most 100 printable ASCII characters. */
function subjectLine(text: string): string {
  const ascii = text.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length <= 100 ? ascii : `${ascii.slice(0, 97)}...`;
}

/** The status, subject and message of a repair's outcome: one severity model for every reader. */
function result(d: z.infer<typeof diagnosisSchema>, outcome: RepairResult['outcome']): RepairResult {
  const name = secretNameOf(d.secretArn);
  const broken = d.severity === 'critical';
  const status: RepairStatus = broken ? 'broken' : outcome === 'nothing-to-repair' ? 'ok' : outcome;
  const subject = broken
    ? `credflow: ACTION NEEDED: ${name} does not log in`
    : outcome === 'rolled-forward'
      ? `credflow: rotation of ${name} completed by repair`
      : outcome === 'rolled-back'
        ? `credflow: rotation of ${name} rolled back, it logs in`
        : `credflow: rotation of ${name} failed, nothing to repair`;
  return {
    ...d,
    outcome,
    status,
    secretName: name,
    subject: subjectLine(subject),
    message: message(d, outcome),
  };
}

/**
 * The status tag, and since when it holds: a repair that finds the status it already recorded
 * (a second repair of a secret still broken) keeps the first date.
 */
async function tagStatus(
  deps: Deps,
  arn: string,
  value: string,
  /** The secret's tags when the caller has just described it (tagging does not read them again). */
  known?: Record<string, string>,
): Promise<void> {
  const tags = known ?? (await describeState(deps.secrets, arn)).tags;
  const since =
    tags[STATUS_TAG] === value && statusSince(tags[STATUS_SINCE_TAG]) ? tags[STATUS_SINCE_TAG] : undefined;
  const Tags = [{ Key: STATUS_TAG, Value: value }];
  if (!since) Tags.push({ Key: STATUS_SINCE_TAG, Value: new Date().toISOString() });
  await aws(`TagResource ${arn}`, () => deps.secrets.send(new TagResourceCommand({ SecretId: arn, Tags })));
}

function message(d: z.infer<typeof diagnosisSchema>, outcome: RepairResult['outcome']): string {
  const what = {
    'rolled-forward': `the pending password worked on the server, so version ${d.pendingVersionId} was promoted to AWSCURRENT`,
    'rolled-back': `the pending password did not work, so AWSPENDING was removed from version ${d.pendingVersionId}; AWSCURRENT is unchanged`,
    'nothing-to-repair': 'no version was left in AWSPENDING',
  }[outcome];
  const tail =
    d.severity === 'critical'
      ? " ACTION NEEDED: AWSCURRENT does NOT log in, so applications using this secret cannot connect. Set the database user's password to the one in AWSCURRENT (or put a working value in AWSCURRENT), then run verify-credentials."
      : ' AWSCURRENT logs in.';
  return `Rotation of ${d.secretArn} failed (${d.reason}); ${what}.${tail}`;
}

/** Parses a diagnosis as RollForwardRotation and RollBackRotation receive it. */
export const parseDiagnosis = parser(diagnosisSchema, 'invalid diagnosis');

/** RollForwardRotation: the pending version becomes AWSCURRENT (finishSecret's own logic). */
export async function rollForwardRotation(
  deps: Deps,
  d: z.infer<typeof diagnosisSchema>,
): Promise<RepairResult> {
  if (!d.pendingVersionId) throw new ValidationError('nothing to roll forward: no pending version');
  // Counted as a repair below, not as a rotation that succeeded.
  await finishSecret({ ...deps, metrics: undefined }, { secretId: d.secretArn, token: d.pendingVersionId });
  const r = result(d, 'rolled-forward');
  await tagStatus(deps, d.secretArn, r.status);
  deps.metrics?.put('Repair', 1, { action: 'roll-forward' });
  if (r.status === 'broken') deps.metrics?.put('SecretsBroken', 1, {});
  return r;
}

/** RollBackRotation: AWSPENDING comes off the version that never worked. */
export async function rollBackRotation(
  deps: Deps,
  d: z.infer<typeof diagnosisSchema>,
): Promise<RepairResult> {
  if (!d.pendingVersionId) {
    const r = result(d, 'nothing-to-repair');
    // Nothing to undo, but a secret that does not log in is still marked for people to see.
    if (r.status === 'broken') {
      await tagStatus(deps, d.secretArn, r.status);
      deps.metrics?.put('SecretsBroken', 1, {});
    }
    deps.metrics?.put('Repair', 1, { action: 'none' });
    return r;
  }
  const state = await describeState(deps.secrets, d.secretArn);
  // Only the version diagnosed; a new rotation may have begun meanwhile and is not ours to undo.
  if (state.pendingVersionId === d.pendingVersionId) {
    await aws(`UpdateSecretVersionStage ${d.secretArn}`, () =>
      deps.secrets.send(
        new UpdateSecretVersionStageCommand({
          SecretId: d.secretArn,
          VersionStage: 'AWSPENDING',
          RemoveFromVersionId: d.pendingVersionId,
        }),
      ),
    );
  }
  const r = result(d, 'rolled-back');
  await tagStatus(deps, d.secretArn, r.status, state.tags);
  deps.metrics?.put('Repair', 1, { action: 'roll-back' });
  if (r.status === 'broken') deps.metrics?.put('SecretsBroken', 1, {});
  return r;
}

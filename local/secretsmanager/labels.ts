import { AwsError, invalidParameter, resourceNotFound } from '../http/errors';

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPREVIOUS = 'AWSPREVIOUS';
export const AWSPENDING = 'AWSPENDING';
export const MAX_STAGES_PER_VERSION = 20;

/**
 * A secret's staging labels as stage -> version id: a label is on at most one version, which
 * the map enforces by construction. Functions here return a new map and never mutate.
 */
export type StageMap = ReadonlyMap<string, string>;

/** version id -> its labels, in label order. */
export function stagesByVersion(map: StageMap): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [stage, versionId] of [...map.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const list = out.get(versionId) ?? [];
    list.push(stage);
    out.set(versionId, list);
  }
  return out;
}

export function stagesOf(map: StageMap, versionId: string): string[] {
  return stagesByVersion(map).get(versionId) ?? [];
}

/**
 * Puts `stages` on `versionId` (PutSecretValue, UpdateSecret, RotateSecret's placeholder): each
 * label leaves the version it was on, and when AWSCURRENT moves, the version it left becomes
 * AWSPREVIOUS.
 */
export function attachStages(
  map: StageMap,
  versionId: string,
  stages: readonly string[],
): Map<string, string> {
  const next = new Map(map);
  const oldCurrent = map.get(AWSCURRENT);
  for (const stage of stages) next.set(stage, versionId);
  if (
    stages.includes(AWSCURRENT) &&
    oldCurrent !== undefined &&
    oldCurrent !== versionId &&
    !stages.includes(AWSPREVIOUS)
  ) {
    next.set(AWSPREVIOUS, oldCurrent);
  }
  return next;
}

/**
 * A client set a new AWSCURRENT itself (PutSecretValue/UpdateSecret) instead of letting a
 * rotation finish: Secrets Manager takes AWSPENDING off every other version. `abandoned` tells
 * whether that cut short a rotation in flight (AWSPENDING was on a version that was not current).
 */
export function dropPendingOnManualChange(
  before: StageMap,
  after: StageMap,
  newVersionId: string,
): { map: Map<string, string>; abandoned: boolean } {
  const next = new Map(after);
  const pending = after.get(AWSPENDING);
  if (pending === undefined || pending === newVersionId) return { map: next, abandoned: false };
  next.delete(AWSPENDING);
  return { map: next, abandoned: before.get(AWSPENDING) !== before.get(AWSCURRENT) };
}

export interface StageMove {
  stage: string;
  moveToVersionId?: string | undefined;
  removeFromVersionId?: string | undefined;
}

/**
 * UpdateSecretVersionStage: moves `stage` to `moveToVersionId` and/or takes it off
 * `removeFromVersionId`. A label that sits on another version must be named in
 * RemoveFromVersionId to be moved; AWSCURRENT can be moved but never just removed; moving
 * AWSCURRENT makes the version it left AWSPREVIOUS.
 */
export function moveStage(
  map: StageMap,
  versionIds: ReadonlySet<string>,
  move: StageMove,
): Map<string, string> {
  const { stage, moveToVersionId: to, removeFromVersionId: from } = move;
  validateStageName(stage);
  const holder = map.get(stage);
  if (to === undefined && from === undefined) {
    throw invalidParameter('You must specify MoveToVersionId or RemoveFromVersionId.');
  }
  if (to !== undefined && !versionIds.has(to)) {
    throw resourceNotFound(`Secrets Manager can't find the specified secret version: ${to}`);
  }
  if (from !== undefined && holder !== from) {
    throw invalidParameter(
      holder === undefined
        ? `The staging label ${stage} isn't attached to any version, so you can't remove it from version ${from}.`
        : `The staging label ${stage} is attached to version ${holder}, not to version ${from}, which you specified in RemoveFromVersionId.`,
    );
  }
  const next = new Map(map);
  if (to === undefined) {
    if (stage === AWSCURRENT) {
      throw invalidParameter(
        'You can only move the staging label AWSCURRENT to a different secret version. It can\u2019t be completely removed.',
      );
    }
    next.delete(stage);
    return next;
  }
  if (holder !== undefined && holder !== to && from === undefined) {
    throw invalidParameter(
      `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder}, so you must explicitly reference that version in RemoveFromVersionId.`,
    );
  }
  next.set(stage, to);
  if (stage === AWSCURRENT && holder !== undefined && holder !== to) next.set(AWSPREVIOUS, holder);
  return next;
}

export function validateStageName(stage: string): void {
  if (stage.length < 1 || stage.length > 256) {
    throw new AwsError(
      'ValidationException',
      `Staging label ${JSON.stringify(stage)} must be 1 to 256 characters long.`,
    );
  }
}

/** Secrets Manager's quota: at most 20 labels on one version. */
export function checkStageQuota(map: StageMap): void {
  for (const [versionId, stages] of stagesByVersion(map)) {
    if (stages.length > MAX_STAGES_PER_VERSION) {
      throw new AwsError(
        'LimitExceededException',
        `Version ${versionId} would have ${stages.length} staging labels; a version can have at most ${MAX_STAGES_PER_VERSION}.`,
      );
    }
  }
}

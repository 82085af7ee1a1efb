/**
 * The registry of rotation strategies. Adding one: a file implementing RotationStrategy and a
 * line here (its name also goes into STRATEGIES in ../types).
 */
import { ValidationError } from '../../errors';
import { STRATEGIES, STRATEGY_TAG, type StepInput, type StrategyName } from '../types';
import { adminSingleUser } from './admin-single-user';
import { alternatingUsers } from './alternating-users';
import { singleUser } from './single-user';
import type { RotationStrategy } from './types';

export { cloneOf } from './alternating-users';
export { grantsFingerprint } from './checks';
export type { Check, CheckName, RotationStrategy, SetContext, VerifyContext } from './types';

const REGISTRY: Record<StrategyName, RotationStrategy> = {
  'single-user': singleUser,
  'alternating-users': alternatingUsers,
  'admin-single-user': adminSingleUser,
};

/** The strategy of that name; ValidationError for any other name. */
export function strategyNamed(name: string): RotationStrategy {
  if (!(STRATEGIES as readonly string[]).includes(name)) {
    throw new ValidationError(
      `unknown rotation strategy ${JSON.stringify(name)}: expected one of ${STRATEGIES.join(', ')}`,
    );
  }
  return REGISTRY[name as StrategyName];
}

/** The strategy the input or the secret's tag names, if either does. */
export function namedStrategy(
  input: Pick<StepInput, 'strategy'>,
  tags: Record<string, string>,
): RotationStrategy | undefined {
  const named = input.strategy ?? tags[STRATEGY_TAG];
  return named === undefined ? undefined : strategyNamed(named);
}

/** The strategy: the input's, else the secret's tag, else what its keys imply (masterarn: alternating). */
export function resolveStrategy(
  input: Pick<StepInput, 'strategy'>,
  tags: Record<string, string>,
  hasMaster: boolean,
): RotationStrategy {
  return namedStrategy(input, tags) ?? (hasMaster ? alternatingUsers : singleUser);
}

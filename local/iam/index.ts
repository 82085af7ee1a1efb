export * from './catalog';
export { CONDITION_OPERATORS } from './conditions';
export { PolicyValidationError } from './errors';
export {
  assemblePolicySet,
  authorize,
  type CompiledPolicy,
  type CompiledPolicySet,
  compilePolicy,
  compilePolicySet,
  DecisionCache,
} from './evaluate';
export type * from './types';

import { taskHandler } from '../../src/handler';
import { parseSelectState, selectSecretsToAdopt } from '../../src/lifecycle/adopt';

/** Task SelectSecretsToAdopt of adopt-secrets. */
export const handler = taskHandler('credflow-adopt', parseSelectState, selectSecretsToAdopt);

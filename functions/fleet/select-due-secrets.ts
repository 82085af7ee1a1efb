import { taskHandler } from '../../src/handler';
import { parseSelectDueSecretsInput, selectDueSecrets } from '../../src/lifecycle/fleet';

/** Task SelectDueSecrets of rotate-fleet. */
export const handler = taskHandler('credflow-fleet', parseSelectDueSecretsInput, selectDueSecrets);

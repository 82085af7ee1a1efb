import { taskHandler } from '../../src/handler';
import { deleteChildSecrets, parseDeleteChildSecretsInput } from '../../src/lifecycle/users';

/** Task DeleteChildSecrets of decommission-database. */
export const handler = taskHandler('credflow-database', parseDeleteChildSecretsInput, deleteChildSecrets);

import { taskHandler } from '../../src/handler';
import {
  disableDeletionProtection,
  parseDisableDeletionProtectionInput,
} from '../../src/lifecycle/decommission';

/** Task DisableDeletionProtection of decommission-database. */
export const handler = taskHandler(
  'credflow-database',
  parseDisableDeletionProtectionInput,
  disableDeletionProtection,
);

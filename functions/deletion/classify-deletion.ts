import { classifyDeletion } from '../../src/lifecycle/deletion';

/** Task ClassifyDeletion of on-deletion. */
export const handler = async (event: unknown) => classifyDeletion(event, process.env['ALERT_TOPIC_ARN']);

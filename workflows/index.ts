// Every workflow of the orchestration worker; the bundle is built from this file.
export { generationWorkflow, progressQuery } from './generation';
export { moderationWorkflow } from './moderation';
export { caseReviewWorkflow } from './caseReview';
export { publishWorkflow } from './publish';
export { recordEventsWorkflow } from './recordEvents';
export { cameoWorkflow } from './cameo';
export { takedownWorkflow } from './takedown';
export { recordRemixWorkflow } from './recordRemix';
export { webhookEndpointWorkflow } from './webhooks';
export { retentionWorkflow } from './retention';

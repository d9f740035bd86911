// Every workflow of the orchestration worker; the bundle is built from this file.
export { moderationWorkflow } from './moderation';
export { recordEventsWorkflow } from './recordEvents';

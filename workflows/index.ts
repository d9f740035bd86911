// Every workflow of the orchestration worker; the bundle is built from this file.
export { recordEventsWorkflow } from './recordEvents';

// The task queues, named once: workflows and light activities on `orchestration`, inference on `gpu`.
export const ORCHESTRATION_TASK_QUEUE = 'orchestration';
export const GPU_TASK_QUEUE = 'gpu';

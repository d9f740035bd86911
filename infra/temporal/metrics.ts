// Prometheus metrics of the Temporal side of a worker role: activity failures counted as errors, and the approximate
// backlog of task queues as Temporal reports it (DescribeTaskQueue with report_stats), read at each scrape.
import { temporal } from '@temporalio/proto';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../logger';
import type { ErrorsCounter } from '../metrics';
import type { TemporalClient } from './connection';

export const BACKLOG_METRIC = 'reelforge_task_queue_backlog';

/** Counts each failed activity attempt in `reelforge_errors_total{role, kind="activity_failed"}`. */
export function activityErrorsInterceptor(errors: ErrorsCounter, role: string): ActivityInterceptorsFactory {
  errors.inc({ role, kind: 'activity_failed' }, 0);
  return () => ({
    inbound: {
      async execute(input, next) {
        try {
          return await next(input);
        } catch (err) {
          errors.inc({ role, kind: 'activity_failed' });
          throw err;
        }
      },
    },
  });
}

const { TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY } = temporal.api.enums.v1.TaskQueueType;

/**
 * `reelforge_task_queue_backlog{task_queue, type}`: tasks waiting on each queue (workflow tasks of the orchestration
 * queue, activity tasks of both), asked of Temporal at each scrape. A server that does not answer within 2 s (or is
 * too old to report stats) leaves the series out of that scrape, and says so in a debug line.
 */
export function taskQueueBacklogGauge(
  registry: Registry,
  temporalClient: TemporalClient,
  queues: { name: string; types: ('workflow' | 'activity')[] }[],
  logger: Logger,
): Gauge<'task_queue' | 'type'> {
  return new Gauge({
    name: BACKLOG_METRIC,
    help: 'Approximate tasks waiting on a Temporal task queue (DescribeTaskQueue report_stats)',
    labelNames: ['task_queue', 'type'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const { connection, namespace } = temporalClient;
      await Promise.all(
        queues.flatMap(({ name, types }) =>
          types.map(async (type) => {
            try {
              const response = await connection.withDeadline(Date.now() + 2000, () =>
                connection.workflowService.describeTaskQueue({
                  namespace,
                  taskQueue: { name },
                  taskQueueType: type === 'workflow' ? TASK_QUEUE_TYPE_WORKFLOW : TASK_QUEUE_TYPE_ACTIVITY,
                  reportStats: true,
                }),
              );
              const backlog = response.stats?.approximateBacklogCount;
              if (backlog !== undefined && backlog !== null) this.set({ task_queue: name, type }, Number(backlog));
            } catch (err) {
              logger.debug({ err, taskQueue: name, type }, 'task queue backlog not read');
            }
          }),
        ),
      );
    },
  });
}

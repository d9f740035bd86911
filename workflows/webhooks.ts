// webhookEndpointWorkflow: one per webhook endpoint (id `webhook-endpoint-<endpoint id>`), started or woken by a
// signal for each delivery (infra/webhooks/queue.ts). It sends its deliveries one at a time, in the order they came,
// so a receiver sees an endpoint's events in the order they happened. Each delivery is retried by Temporal with
// exponential backoff (deliverWebhook records every attempt on the endpoint's delivery stream) for the retry window;
// one that fails for the whole window disables the endpoint, and what is queued behind it then ends failed at once.
// An idle workflow ends after an hour and the next delivery starts it again; a long one continues as new.
import { ActivityFailure, ApplicationFailure, condition, continueAsNew, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { webhookDeliverySignal, type WebhookDeliveryRequest, type WebhookRetry } from './definitions';

export interface WebhookEndpointInput {
  endpointId: string;
  retry: WebhookRetry;
  /** Carried over a continue-as-new: deliveries still queued, and the ids already taken (a signal sent twice). */
  queue?: WebhookDeliveryRequest[];
  seen?: string[];
}

/** Delivery ids remembered across a continue-as-new, to drop a signal the dispatcher sent again after a restart. */
const SEEN_KEPT = 1000;
const IDLE_END = '1 hour';

export async function webhookEndpointWorkflow(input: WebhookEndpointInput): Promise<void> {
  const queue: WebhookDeliveryRequest[] = [...(input.queue ?? [])];
  const seen = new Set<string>(input.seen ?? []);
  for (const d of queue) seen.add(d.deliveryId);
  setHandler(webhookDeliverySignal, (delivery) => {
    if (seen.has(delivery.deliveryId)) return;
    seen.add(delivery.deliveryId);
    queue.push(delivery);
  });

  const { recordWebhookDelivery, disableWebhookEndpoint } = proxyActivities<Activities>({
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
  });
  const { deliverWebhook } = proxyActivities<Activities>({
    // One send waits at most 10 s for the receiver; the rest is signing and recording.
    startToCloseTimeout: '30 seconds',
    scheduleToCloseTimeout: `${input.retry.windowSeconds} seconds`,
    retry: {
      initialInterval: `${input.retry.firstSeconds} seconds`,
      backoffCoefficient: 2,
      maximumInterval: `${Math.max(input.retry.firstSeconds, Math.min(3600, input.retry.windowSeconds / 4))} seconds`,
      nonRetryableErrorTypes: ['WebhookEndpointGone'],
    },
  });

  for (;;) {
    if (queue.length === 0) {
      if (workflowInfo().continueAsNewSuggested) break;
      const woken = await condition(() => queue.length > 0, IDLE_END);
      if (!woken) return;
    }
    const delivery = queue[0]!;
    const now = Math.floor(Date.now() / 1000);
    await recordWebhookDelivery({
      endpointId: input.endpointId,
      deliveryId: delivery.deliveryId,
      seq: 0,
      event: {
        type: 'WebhookDeliveryQueued',
        data: {
          delivery_id: delivery.deliveryId,
          webhook_id: delivery.webhookId,
          event_type: delivery.eventType,
          body: delivery.body,
          ...(delivery.redeliveryOf ? { redelivery_of: delivery.redeliveryOf } : {}),
          at: now,
        },
      },
    });
    let reason: string | null = null;
    let gone = false;
    try {
      await deliverWebhook({ endpointId: input.endpointId, deliveryId: delivery.deliveryId, webhookId: delivery.webhookId, body: delivery.body });
    } catch (err) {
      const cause = err instanceof ActivityFailure ? err.cause : err;
      gone = cause instanceof ApplicationFailure && cause.type === 'WebhookEndpointGone';
      reason = (cause as Error | undefined)?.message ?? (err as Error).message;
    }
    await recordWebhookDelivery({
      endpointId: input.endpointId,
      deliveryId: delivery.deliveryId,
      seq: 1,
      event: {
        type: 'WebhookDeliveryEnded',
        data: { delivery_id: delivery.deliveryId, outcome: reason === null ? 'delivered' : 'failed', reason, at: Math.floor(Date.now() / 1000) },
      },
    });
    queue.shift();
    if (reason !== null && !gone) {
      await disableWebhookEndpoint({
        endpointId: input.endpointId,
        reason: `deliveries failed for ${input.retry.windowSeconds} s (delivery ${delivery.deliveryId}; last: ${reason})`,
      });
    }
    if (workflowInfo().continueAsNewSuggested) break;
  }
  await continueAsNew<typeof webhookEndpointWorkflow>({ ...input, queue, seen: [...seen].slice(-SEEN_KEPT) });
}

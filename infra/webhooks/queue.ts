// Queueing a delivery with an endpoint's workflow (workflows/webhooks.ts): Signal-With-Start, so the workflow is
// started if it is not running and woken if it is. Named by string, as infra imports no workflow code; the names are
// the workflow's and workflows/definitions.ts's (test/workflows/webhooks.test.ts checks them).
import type { Client } from '@temporalio/client';
import type { WebhookEventType } from '../../domain/webhooks/eventTypes';

export const WEBHOOK_ENDPOINT_WORKFLOW = 'webhookEndpointWorkflow';
export const WEBHOOK_DELIVERY_SIGNAL = 'webhookDelivery';

export function webhookEndpointWorkflowId(endpointId: string): string {
  return `webhook-endpoint-${endpointId}`;
}

export interface QueuedDelivery {
  deliveryId: string;
  webhookId: string;
  eventType: WebhookEventType;
  body: string;
  redeliveryOf?: string;
}

export async function queueWebhookDelivery(
  client: Client,
  options: { taskQueue: string; endpointId: string; retry: { firstSeconds: number; windowSeconds: number }; delivery: QueuedDelivery },
): Promise<void> {
  await client.workflow.signalWithStart(WEBHOOK_ENDPOINT_WORKFLOW, {
    workflowId: webhookEndpointWorkflowId(options.endpointId),
    taskQueue: options.taskQueue,
    args: [{ endpointId: options.endpointId, retry: options.retry }],
    signal: WEBHOOK_DELIVERY_SIGNAL,
    signalArgs: [options.delivery],
  });
}

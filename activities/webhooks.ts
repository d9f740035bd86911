// The activities of webhook deliveries (workflows/webhooks.ts): sending one attempt, signed, to the endpoint's URL
// as it is now (checked again for SSRF), and recording it; recording a delivery's queueing and end; disabling an
// endpoint whose deliveries failed for the whole retry window. Every event goes to the endpoint's delivery stream with
// an id derived from the delivery, so an activity retried after its append wrote nothing twice.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { deliveryStream, isDelivered, type WebhookDeliveryEvent } from '../domain/webhooks/deliveries';
import type { EventStore } from '../infra/eventstore/port';
import type { Logger } from '../infra/logger';
import { sendWebhook, WebhookSendFailed, WebhookUrlRefused, type WebhookUrlPolicy } from '../infra/webhooks/sender';
import { signDelivery } from '../infra/webhooks/signing';
import type { WebhookEndpointStore } from '../infra/webhooks/store';
import { deterministicEventId } from './appendEvents';

export interface WebhookDeps {
  store: WebhookEndpointStore;
  policy: WebhookUrlPolicy;
  /** How long one attempt waits for the receiver; 10 s by default. */
  timeoutMs?: number;
}

/** Event sequence numbers within a delivery: queued 0, ended 1, attempt n at 1 + n. */
const ATTEMPT_SEQ_BASE = 1;

export function createWebhookActivities(deps: { eventStore: EventStore; logger: Logger; webhooks?: WebhookDeps }) {
  const webhooks = (): WebhookDeps => {
    if (!deps.webhooks) throw ApplicationFailure.nonRetryable('this worker was built without the webhook endpoint store', 'NoWebhookStore');
    return deps.webhooks;
  };
  const append = async (endpointId: string, deliveryId: string, seq: number, event: WebhookDeliveryEvent) => {
    await deps.eventStore.appendToStream(
      deliveryStream(endpointId),
      [{ id: deterministicEventId(`webhook-delivery-${deliveryId}`, seq), type: event.type, data: event.data, metadata: { correlationId: endpointId } }],
      { expectedRevision: 'any' },
    );
  };

  return {
    async recordWebhookDelivery(input: { endpointId: string; deliveryId: string; seq: 0 | 1; event: WebhookDeliveryEvent }): Promise<void> {
      await append(input.endpointId, input.deliveryId, input.seq, input.event);
    },

    /** One attempt: resolves on a 2xx; otherwise fails (retryable), after recording what happened. */
    async deliverWebhook(input: { endpointId: string; deliveryId: string; webhookId: string; body: string }): Promise<{ statusCode: number }> {
      const { store, policy, timeoutMs } = webhooks();
      const attempt = Context.current().info.attempt;
      const endpoint = await store.byId(input.endpointId);
      if (!endpoint) throw ApplicationFailure.nonRetryable('the webhook endpoint was deleted', 'WebhookEndpointGone');
      if (endpoint.disabledReason !== null) {
        throw ApplicationFailure.nonRetryable(`the webhook endpoint is disabled: ${endpoint.disabledReason}`, 'WebhookEndpointGone');
      }
      const headers = signDelivery({
        id: input.webhookId,
        timestamp: Math.floor(Date.now() / 1000),
        body: input.body,
        secrets: await store.signingSecrets(endpoint.id),
      });
      const at = Math.floor(Date.now() / 1000);
      let statusCode: number | null = null;
      let latencyMs: number | null = null;
      let error: string | null = null;
      try {
        ({ statusCode, latencyMs } = await sendWebhook({ url: endpoint.url, body: input.body, headers: { ...headers }, policy, timeoutMs }));
      } catch (err) {
        if (!(err instanceof WebhookSendFailed || err instanceof WebhookUrlRefused)) throw err;
        error = err.message;
      }
      if (error === null && !isDelivered(statusCode)) error = `the receiver answered ${statusCode}`;
      await append(input.endpointId, input.deliveryId, ATTEMPT_SEQ_BASE + attempt, {
        type: 'WebhookDeliveryAttempted',
        data: { delivery_id: input.deliveryId, attempt, at, status_code: statusCode, latency_ms: latencyMs, error },
      });
      deps.logger.info({ endpointId: endpoint.id, deliveryId: input.deliveryId, attempt, statusCode, latencyMs, error }, 'webhook delivery attempted');
      if (error !== null) throw ApplicationFailure.retryable(error, 'WebhookNotDelivered');
      return { statusCode: statusCode! };
    },

    async disableWebhookEndpoint(input: { endpointId: string; reason: string }): Promise<void> {
      const disabled = await webhooks().store.disable(input.endpointId, input.reason);
      deps.logger.warn({ endpointId: input.endpointId, reason: input.reason, disabled }, 'webhook endpoint disabled');
    },
  };
}

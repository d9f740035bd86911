// infra/webhooks/queue.ts names the endpoints' workflow and its signal by string (infra imports no workflow code):
// the names must be the workflow's own.
import * as workflows from '../../workflows';
import { webhookDeliverySignal } from '../../workflows/definitions';
import { WEBHOOK_DELIVERY_SIGNAL, WEBHOOK_ENDPOINT_WORKFLOW } from '../../infra/webhooks/queue';

describe('webhook workflow names', () => {
  it('are those of the workflow exported to the worker and of its signal', () => {
    expect(typeof (workflows as Record<string, unknown>)[WEBHOOK_ENDPOINT_WORKFLOW]).toBe('function');
    expect(webhookDeliverySignal.name).toBe(WEBHOOK_DELIVERY_SIGNAL);
  });
});

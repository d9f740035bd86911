// The event types a webhook endpoint can subscribe to: OpenAI's two video events and ours. Pure, so the workflows that
// will deliver them (issue 18, deliveries) share the list with the API.
export const WEBHOOK_EVENT_TYPES = [
  'video.completed',
  'video.failed',
  'video.cancelled',
  'video.blocked',
  'cameo.access_revoked',
  'cameo.use_blocked',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export function isWebhookEventType(value: string): value is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);
}

/**
 * The body of a delivery, as OpenAI's webhook events are (`openai/types/webhooks/*_webhook_event.py`): the event's id,
 * `object: "event"`, its type, when it happened (Unix seconds) and the id of the thing it is about (a video or a cameo).
 */
export interface WebhookEventPayload {
  id: string;
  object: 'event';
  type: WebhookEventType;
  created_at: number;
  data: { id: string };
}

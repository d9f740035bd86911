// Webhook deliveries, event-sourced: one stream per endpoint, `webhook_deliveries-<endpoint id>`, holding each
// delivery's queueing, every attempt (when, the receiver's status, how long it took, what went wrong) and its end.
// The stream is the audit trail and the source of GET /v1/webhook_endpoints/{id}/deliveries. Pure.
import type { WebhookEventPayload, WebhookEventType } from './eventTypes';

export type WebhookDeliveryOutcome = 'delivered' | 'failed';

export type WebhookDeliveryEvent =
  | {
      type: 'WebhookDeliveryQueued';
      data: {
        delivery_id: string;
        /** The Standard Webhooks `webhook-id`: the same on every attempt, and on a redelivery of the same event. */
        webhook_id: string;
        event_type: WebhookEventType;
        /** The JSON body sent, byte for byte (what was signed). */
        body: string;
        /** The delivery this one sends again (POST .../redeliver). */
        redelivery_of?: string;
        at: number;
      };
    }
  | {
      type: 'WebhookDeliveryAttempted';
      data: {
        delivery_id: string;
        attempt: number;
        at: number;
        /** The receiver's HTTP status; null when none came (refused, unreachable, timed out). */
        status_code: number | null;
        latency_ms: number | null;
        error: string | null;
      };
    }
  | { type: 'WebhookDeliveryEnded'; data: { delivery_id: string; outcome: WebhookDeliveryOutcome; reason: string | null; at: number } };

export function deliveryStream(endpointId: string): string {
  return `webhook_deliveries-${endpointId}`;
}

export interface WebhookDeliveryAttempt {
  attempt: number;
  at: number;
  status_code: number | null;
  latency_ms: number | null;
  error: string | null;
}

export interface WebhookDelivery {
  id: string;
  webhook_id: string;
  event_type: WebhookEventType;
  /** The event's own id (`evt_...`) and subject, from the body. */
  event_id: string;
  subject_id: string;
  status: 'pending' | WebhookDeliveryOutcome;
  failure_reason: string | null;
  redelivery_of: string | null;
  created_at: number;
  ended_at: number | null;
  attempts: WebhookDeliveryAttempt[];
}

/** The deliveries of one endpoint's stream, oldest first. */
export function foldDeliveries(events: readonly WebhookDeliveryEvent[]): WebhookDelivery[] {
  const byId = new Map<string, WebhookDelivery>();
  for (const event of events) {
    if (event.type === 'WebhookDeliveryQueued') {
      const d = event.data;
      if (byId.has(d.delivery_id)) continue;
      const payload = JSON.parse(d.body) as WebhookEventPayload;
      byId.set(d.delivery_id, {
        id: d.delivery_id,
        webhook_id: d.webhook_id,
        event_type: d.event_type,
        event_id: payload.id,
        subject_id: payload.data.id,
        status: 'pending',
        failure_reason: null,
        redelivery_of: d.redelivery_of ?? null,
        created_at: d.at,
        ended_at: null,
        attempts: [],
      });
      continue;
    }
    const delivery = byId.get(event.data.delivery_id);
    if (!delivery) continue;
    if (event.type === 'WebhookDeliveryAttempted') {
      const { attempt, at, status_code, latency_ms, error } = event.data;
      delivery.attempts.push({ attempt, at, status_code, latency_ms, error });
    } else {
      delivery.status = event.data.outcome;
      delivery.failure_reason = event.data.reason;
      delivery.ended_at = event.data.at;
    }
  }
  return [...byId.values()];
}

/** Whether a receiver's answer counts as delivered: any 2xx. A 3xx is a failure (redirects are never followed). */
export function isDelivered(statusCode: number | null): boolean {
  return statusCode !== null && statusCode >= 200 && statusCode < 300;
}

/** The domain events that become webhook events: a video's stream ending (its owner is told). */
const VIDEO_EVENTS: Readonly<Record<string, WebhookEventType>> = {
  VideoCompleted: 'video.completed',
  VideoFailed: 'video.failed',
  VideoCancelled: 'video.cancelled',
  VideoBlocked: 'video.blocked',
};

/** A cameo's consent events: the user they concern (`data.user_id`) is told, about the cameo. */
const CAMEO_EVENTS: Readonly<Record<string, WebhookEventType>> = {
  // A cameo's owner withdrew this user's access.
  CameoAccessRevoked: 'cameo.access_revoked',
  // This user's video could not use (or stopped using) the cameo: consent missing or withdrawn.
  CameoUseBlocked: 'cameo.use_blocked',
};

/**
 * The webhook event type a recorded event of `stream` causes, the id of its subject and whom it is for: `recipient`
 * the user named in the event, or undefined for a video's end (its owner, the stream's first event says); undefined for
 * most events.
 */
export function webhookEventOf(
  stream: string,
  type: string,
  data?: unknown,
): { eventType: WebhookEventType; subjectId: string; recipient?: string } | undefined {
  const videoType = VIDEO_EVENTS[type];
  if (videoType && stream.startsWith('video-')) return { eventType: videoType, subjectId: stream.slice('video-'.length) };
  const cameoType = CAMEO_EVENTS[type];
  const recipient = (data as { user_id?: unknown } | undefined)?.user_id;
  if (cameoType && stream.startsWith('cameo-') && typeof recipient === 'string') {
    return { eventType: cameoType, subjectId: stream.slice('cameo-'.length), recipient };
  }
  return undefined;
}

/**
 * The delivery of one domain event to one endpoint: ids derived from both, so the dispatcher seeing the same event
 * twice (after a restart) queues the same delivery, which the endpoint's workflow then ignores.
 */
export function deliveryFor(options: { endpointId: string; eventId: string; eventType: WebhookEventType; subjectId: string; at: number }): {
  deliveryId: string;
  webhookId: string;
  body: string;
} {
  const key = `${options.endpointId.slice(3)}${options.eventId.replace(/-/g, '')}`;
  const payload: WebhookEventPayload = {
    id: `evt_${options.eventId.replace(/-/g, '')}`,
    object: 'event',
    type: options.eventType,
    created_at: options.at,
    data: { id: options.subjectId },
  };
  return { deliveryId: `dlv_${key}`, webhookId: `msg_${key}`, body: JSON.stringify(payload) };
}

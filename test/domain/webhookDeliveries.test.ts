// A webhook endpoint's delivery stream folded into its deliveries, and which domain events become webhook events.
import { deliveryFor, foldDeliveries, isDelivered, webhookEventOf, type WebhookDeliveryEvent } from '../../domain/webhooks/deliveries';

const ENDPOINT = 'we_0123456789abcdef0123456789abcdef';
const EVENT_ID = '6c1b9d7e-2f3a-4b5c-8d9e-0f1a2b3c4d5e';

describe('webhook deliveries (domain)', () => {
  const first = deliveryFor({ endpointId: ENDPOINT, eventId: EVENT_ID, eventType: 'video.completed', subjectId: 'video_1', at: 1000 });
  const queued = (id: string, at: number): WebhookDeliveryEvent => ({
    type: 'WebhookDeliveryQueued',
    data: { delivery_id: id, webhook_id: first.webhookId, event_type: 'video.completed', body: first.body, at },
  });
  const attempted = (id: string, attempt: number, status: number | null, error: string | null): WebhookDeliveryEvent => ({
    type: 'WebhookDeliveryAttempted',
    data: { delivery_id: id, attempt, at: 1000 + attempt, status_code: status, latency_ms: status === null ? null : 12, error },
  });

  it('given an event and an endpoint, derives the same delivery every time, with OpenAI-shaped body', () => {
    expect(deliveryFor({ endpointId: ENDPOINT, eventId: EVENT_ID, eventType: 'video.completed', subjectId: 'video_1', at: 1000 })).toEqual(first);
    expect(first.deliveryId).toBe('dlv_0123456789abcdef0123456789abcdef6c1b9d7e2f3a4b5c8d9e0f1a2b3c4d5e');
    expect(first.webhookId).toBe('msg_0123456789abcdef0123456789abcdef6c1b9d7e2f3a4b5c8d9e0f1a2b3c4d5e');
    expect(JSON.parse(first.body)).toEqual({
      id: 'evt_6c1b9d7e2f3a4b5c8d9e0f1a2b3c4d5e',
      object: 'event',
      type: 'video.completed',
      created_at: 1000,
      data: { id: 'video_1' },
    });
  });

  it('when attempts fail and then one succeeds, folds to one delivered delivery with every attempt', () => {
    const id = first.deliveryId;
    const [delivery] = foldDeliveries([
      queued(id, 1000),
      attempted(id, 1, 500, 'the receiver answered 500'),
      attempted(id, 2, null, 'webhook not delivered: ECONNREFUSED'),
      attempted(id, 3, 204, null),
      { type: 'WebhookDeliveryEnded', data: { delivery_id: id, outcome: 'delivered', reason: null, at: 1004 } },
    ]);
    expect(delivery).toMatchObject({ id, status: 'delivered', event_id: 'evt_6c1b9d7e2f3a4b5c8d9e0f1a2b3c4d5e', subject_id: 'video_1', ended_at: 1004 });
    expect(delivery!.attempts.map((a) => [a.attempt, a.status_code])).toEqual([
      [1, 500],
      [2, null],
      [3, 204],
    ]);
  });

  it('keeps a pending delivery pending, a failed one with its reason, and ignores a queueing seen twice', () => {
    const deliveries = foldDeliveries([
      queued('dlv_a', 1),
      queued('dlv_a', 2),
      queued('dlv_b', 3),
      { type: 'WebhookDeliveryEnded', data: { delivery_id: 'dlv_b', outcome: 'failed', reason: 'the receiver answered 301', at: 9 } },
    ]);
    expect(deliveries.map((d) => [d.id, d.status, d.failure_reason, d.created_at])).toEqual([
      ['dlv_a', 'pending', null, 1],
      ['dlv_b', 'failed', 'the receiver answered 301', 3],
    ]);
  });

  it('counts only a 2xx as delivered: a redirect is a failure', () => {
    expect([200, 204, 299].every(isDelivered)).toBe(true);
    expect([null, 199, 301, 302, 400, 500].some(isDelivered)).toBe(false);
  });

  it("turns a video's end into its webhook event, and nothing else", () => {
    expect(webhookEventOf('video-video_9', 'VideoCompleted')).toEqual({ eventType: 'video.completed', subjectId: 'video_9' });
    expect(webhookEventOf('video-video_9', 'VideoFailed')?.eventType).toBe('video.failed');
    expect(webhookEventOf('video-video_9', 'VideoCancelled')?.eventType).toBe('video.cancelled');
    expect(webhookEventOf('video-video_9', 'VideoBlocked')?.eventType).toBe('video.blocked');
    expect(webhookEventOf('video-video_9', 'VideoPublished')).toBeUndefined();
    expect(webhookEventOf('cameo-cameo_1', 'VideoCompleted')).toBeUndefined();
  });

  it("turns a cameo's revoked access and a blocked use into webhook events for the user they concern", () => {
    expect(webhookEventOf('cameo-cameo_1', 'CameoAccessRevoked', { user_id: 'user_b', by: 'user_a', at: 1 })).toEqual({
      eventType: 'cameo.access_revoked',
      subjectId: 'cameo_1',
      recipient: 'user_b',
    });
    expect(webhookEventOf('cameo-cameo_1', 'CameoUseBlocked', { video_id: 'video_9', user_id: 'user_c', code: 'consent_revoked' })).toEqual({
      eventType: 'cameo.use_blocked',
      subjectId: 'cameo_1',
      recipient: 'user_c',
    });
    expect(webhookEventOf('cameo-cameo_1', 'CameoAccessGranted', { user_id: 'user_b' })).toBeUndefined();
  });
});

// The webhook dispatcher: follows $all in the orchestration worker and, for each event that a webhook event type
// stands for (a video completed, failed, was cancelled or blocked: for its owner; a user's access to a cameo revoked,
// or a use of a cameo by a user's video blocked: for that user), queues a delivery with the workflow of each
// endpoint its owner has subscribed to that type (infra/webhooks/queue.ts). One process of the fleet dispatches at a
// time (a PostgreSQL lease); the others stand by. Its checkpoint moves only after the deliveries of an event are
// queued, so a crash queues some again: delivery ids derive from the endpoint and the event, and an endpoint's
// workflow drops a delivery it already has (receivers may see a webhook-id twice at worst, as Standard Webhooks allows).
import type { Client } from '@temporalio/client';
import { deliveryFor, webhookEventOf } from '../domain/webhooks/deliveries';
import type { WebhookEventType } from '../domain/webhooks/eventTypes';
import { positionFromString, positionToString, type EventStore, type RecordedEvent, type Subscription } from '../infra/eventstore/port';
import type { Logger } from '../infra/logger';
import { queueWebhookDelivery } from '../infra/webhooks/queue';
import type { PgWebhookEndpointStore } from '../infra/webhooks/store';

export interface WebhookDispatcherOptions {
  eventStore: EventStore;
  store: PgWebhookEndpointStore;
  temporal: () => Client;
  /** The orchestration task queue, where the endpoints' workflows run. */
  taskQueue: string;
  retry: { firstSeconds: number; windowSeconds: number };
  logger: Logger;
  /** How often a standby tries to take the lease, and the wait after a failure. */
  retryMs?: number;
}

/** The checkpoint is written after this many events, or this long after the last write, whichever comes first. */
const CHECKPOINT_EVERY_EVENTS = 200;
const CHECKPOINT_EVERY_MS = 1000;

export class WebhookDispatcher {
  private stopped = false;
  private subscription: Subscription | undefined;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** 'standby' until it holds the lease. */
  phase: 'standby' | 'dispatching' | 'stopped' = 'standby';

  constructor(private readonly options: WebhookDispatcherOptions) {}

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.subscription?.close().catch(() => undefined);
    await this.running;
    this.phase = 'stopped';
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async loop(): Promise<void> {
    const { store, logger } = this.options;
    const retryMs = this.options.retryMs ?? 5000;
    while (!this.stopped) {
      let lease: { release(): void } | undefined;
      try {
        lease = await store.tryLeaseDispatch();
        if (!lease) {
          this.phase = 'standby';
          await this.sleep(retryMs);
          continue;
        }
        this.phase = 'dispatching';
        await this.follow();
      } catch (err) {
        if (!this.stopped) {
          logger.warn({ err }, 'webhook dispatcher failed; starting again from its checkpoint');
          await this.sleep(retryMs);
        }
      } finally {
        lease?.release();
      }
    }
  }

  /** Follows $all from the checkpoint until stopped, queueing deliveries and moving the checkpoint. */
  private async follow(): Promise<void> {
    const { store, eventStore, logger } = this.options;
    const saved = await store.dispatchCheckpoint();
    const subscription = eventStore.subscribeToAll(saved ? { fromPosition: positionFromString(saved) } : {});
    this.subscription = subscription;
    logger.info({ from: saved ?? 'the start' }, 'webhook dispatcher following the event store');
    let unsaved: RecordedEvent | undefined;
    let count = 0;
    let savedAt = Date.now();
    let earliest = await store.earliestEndpointAt();
    let earliestReadAt = Date.now();
    try {
      for await (const event of subscription) {
        if (this.stopped) break;
        const kind = webhookEventOf(event.streamName, event.type, event.data);
        if (kind) {
          const at = Math.floor(event.created.getTime() / 1000);
          // The last look at the endpoints may predate the event (made within its second): then look again, since an
          // endpoint made before the event may have been missed. A look after it saw every such endpoint.
          if ((earliest === undefined || at < earliest) && earliestReadAt <= (at + 1) * 1000) {
            earliest = await store.earliestEndpointAt();
            earliestReadAt = Date.now();
          }
          if (earliest !== undefined && at >= earliest) await this.dispatch(event, kind, at);
        }
        unsaved = event;
        count++;
        if (count >= CHECKPOINT_EVERY_EVENTS || Date.now() - savedAt >= CHECKPOINT_EVERY_MS) {
          await store.saveDispatchCheckpoint(positionToString(event.position));
          unsaved = undefined;
          count = 0;
          savedAt = Date.now();
        }
      }
    } finally {
      if (unsaved) await store.saveDispatchCheckpoint(positionToString(unsaved.position)).catch(() => undefined);
      await subscription.close().catch(() => undefined);
    }
  }

  private async dispatch(event: RecordedEvent, kind: { eventType: WebhookEventType; subjectId: string; recipient?: string }, at: number): Promise<void> {
    const { eventStore, store, logger } = this.options;
    const { eventType, subjectId } = kind;
    let owner = kind.recipient;
    if (owner === undefined) {
      const [first] = await eventStore.readStream(event.streamName, { maxCount: 1 });
      const found = (first?.data as { owner_id?: unknown } | undefined)?.owner_id;
      if (typeof found !== 'string') return;
      owner = found;
    }
    for (const endpoint of await store.subscribed(owner, eventType, at)) {
      const { deliveryId, webhookId, body } = deliveryFor({ endpointId: endpoint.id, eventId: event.id, eventType, subjectId, at });
      await queueWebhookDelivery(this.options.temporal(), {
        taskQueue: this.options.taskQueue,
        endpointId: endpoint.id,
        retry: this.options.retry,
        delivery: { deliveryId, webhookId, eventType, body },
      });
      logger.info({ endpointId: endpoint.id, deliveryId, eventType, subjectId }, 'webhook delivery queued');
    }
  }
}

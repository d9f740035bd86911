// The messages workflows accept (queries, updates, signals) and the default task queues, apart from the workflow
// code, so clients (the API, activities) import them without importing a workflow.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ConsentCode, Permission } from '../domain/cameo/events';
import type { CameoState } from '../domain/cameo/state';
import type { ModerationCaseState, Verdict } from '../domain/moderation/events';
import type { WebhookEventType } from '../domain/webhooks/eventTypes';

/** The default task queues (config may name others): workflows and light activities, and inference. */
export const ORCHESTRATION_TASK_QUEUE = 'orchestration';
export const GPU_TASK_QUEUE = 'gpu';

export interface GrantResult {
  user_id: string;
  revision: number;
  granted_at: number;
}
export interface RevokeResult {
  revision: number;
  revoked_at: number;
}
export interface ReserveResult {
  basis: string;
  grant_revision: number;
  likeness_key: string | null;
}

export const cameoStateQuery = defineQuery<CameoState>('cameoState');
export const changePermissionUpdate = defineUpdate<CameoState, [{ by: string; permission: Permission }]>('changePermission');
export const grantAccessUpdate = defineUpdate<GrantResult, [{ by: string; user_id: string }]>('grantAccess');
export const revokeAccessUpdate = defineUpdate<RevokeResult, [{ by: string; user_id: string }]>('revokeAccess');
export const reserveUseUpdate = defineUpdate<ReserveResult, [{ video_id: string; user_id: string; mutual: boolean }]>('reserveUse');
export const publishUseUpdate = defineUpdate<{ grant_revision: number }, [{ video_id: string; mutual: boolean }]>('publishUse');
/** The mutual follow between `user_id` and the cameo's owner ended: the uses resting on it are blocked; answers the videos stopped. */
export const endMutualUpdate = defineUpdate<{ blocked_video_ids: string[] }, [{ by: string; user_id: string; reason: string }]>('endMutual');
export const deleteCameoUpdate = defineUpdate<{ revision: number }, [{ by: string; take_down: boolean; as_admin?: boolean }]>('deleteCameo');

/** A case as its caseReviewWorkflow holds it now. */
export const caseStateQuery = defineQuery<ModerationCaseState>('caseState');
/** A moderator's decision on a case in review (or on an appeal), validated by the moderation decider; answers the case. */
export const decideCaseUpdate = defineUpdate<ModerationCaseState, [{ moderator_id: string; decision: Verdict; reason: string }]>('decideCase');

/** From cameoWorkflow to a generation that holds a use of the cameo: that use was blocked (revoked, narrowed, deleted). */
/** One webhook delivery for an endpoint's workflow to send, in the order received (infra/webhooks/queue.ts sends it). */
export interface WebhookDeliveryRequest {
  deliveryId: string;
  webhookId: string;
  eventType: WebhookEventType;
  body: string;
  redeliveryOf?: string;
}
/** How an endpoint's deliveries are retried: the first wait, doubling, for at most `windowSeconds` in all. */
export interface WebhookRetry {
  firstSeconds: number;
  windowSeconds: number;
}
export const webhookDeliverySignal = defineSignal<[WebhookDeliveryRequest]>('webhookDelivery');

export const consentRevokedSignal = defineSignal<[{ cameo_id: string; code: ConsentCode; reason: string }]>('consentRevoked');

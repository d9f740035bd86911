// Consent from the side of a video: reserve a use of a cameo before rendering, check it again before completing,
// confirm it at publication. Reservations and confirmations are Updates on the cameo's workflow (serialized with
// grants and revocations there); the check before completion reads the cameo's stream. Whether two users follow
// each other (for `mutuals`) comes from their user streams (infra/streams/cameos.ts).
import type { Client } from '@temporalio/client';
import { decide, CameoCommandRefused } from '../../domain/cameo/decide';
import type { ConsentCode } from '../../domain/cameo/events';
import { cameoStream } from '../../domain/cameo/follows';
import type { EventStore } from '../../infra/eventstore/port';
import { areMutuals, readCameo } from '../../infra/streams/cameos';
import { executeUpdateOrRefusal } from '../../infra/temporal/updates';
import { publishUseUpdate, reserveUseUpdate } from '../../workflows/definitions';

export type ConsentOutcome<R> = ({ ok: true } & R) | { ok: false; code: ConsentCode; reason: string };

export interface CameoUseInput {
  cameoId: string;
  videoId: string;
  /** The video's owner: the user who puts the cameo into it. */
  userId: string;
}

/** An Update refusal as a consent outcome: the consent codes pass through; anything else means no consent. */
function asConsentFailure(cameoId: string, code: string, message: string): { ok: false; code: ConsentCode; reason: string } {
  if (code === 'consent_revoked') return { ok: false, code, reason: message };
  if (code === 'not_running') return { ok: false, code: 'consent_missing', reason: `cameo ${cameoId} does not exist or was deleted` };
  return { ok: false, code: 'consent_missing', reason: message };
}

export function createCameoConsentActivities(deps: { eventStore: EventStore; temporal: () => Client }) {
  const { eventStore } = deps;
  const mutualWithOwner = async (cameoId: string, userId: string): Promise<{ exists: boolean; mutual: boolean }> => {
    const cameo = await readCameo(eventStore, cameoId);
    if (!cameo.exists) return { exists: false, mutual: false };
    return { exists: true, mutual: await areMutuals(eventStore, userId, cameo.ownerId!) };
  };

  /** At publication: the cameo's workflow confirms the use (or refuses it); later revocations no longer stop it. */
  const publishCameoUse = async (input: CameoUseInput): Promise<ConsentOutcome<{ grant_revision: number }>> => {
    const { exists, mutual } = await mutualWithOwner(input.cameoId, input.userId);
    if (!exists) return { ok: false, code: 'consent_missing', reason: `cameo ${input.cameoId} does not exist` };
    const handle = deps.temporal().workflow.getHandle(cameoStream(input.cameoId));
    const outcome = await executeUpdateOrRefusal(handle, publishUseUpdate, [{ video_id: input.videoId, mutual }]);
    return outcome.ok ? { ok: true, ...outcome.result } : asConsentFailure(input.cameoId, outcome.code, outcome.message);
  };

  return {
    async reserveCameoUse(input: CameoUseInput): Promise<ConsentOutcome<{ basis: string; grant_revision: number; likeness_key: string | null }>> {
      const { exists, mutual } = await mutualWithOwner(input.cameoId, input.userId);
      if (!exists) return { ok: false, code: 'consent_missing', reason: `cameo ${input.cameoId} does not exist` };
      const handle = deps.temporal().workflow.getHandle(cameoStream(input.cameoId));
      const outcome = await executeUpdateOrRefusal(handle, reserveUseUpdate, [{ video_id: input.videoId, user_id: input.userId, mutual }]);
      return outcome.ok ? { ok: true, ...outcome.result } : asConsentFailure(input.cameoId, outcome.code, outcome.message);
    },

    /** The check before a video completes: the use is still covered (read from the cameo's stream). */
    async checkCameoUse(input: CameoUseInput): Promise<ConsentOutcome<object>> {
      const cameo = await readCameo(eventStore, input.cameoId);
      if (!cameo.exists) return { ok: false, code: 'consent_missing', reason: `cameo ${input.cameoId} does not exist` };
      const mutual = await areMutuals(eventStore, input.userId, cameo.ownerId!);
      try {
        decide({ type: 'CheckUse', data: { video_id: input.videoId, mutual } }, cameo);
        return { ok: true };
      } catch (err) {
        if (err instanceof CameoCommandRefused) return asConsentFailure(input.cameoId, err.code, err.message);
        throw err;
      }
    },

    // Still registered: publishWorkflows that scheduled it before the publish-cameo-uses-in-one-activity patch (see
    // workflows/publish.ts) replay and retry it.
    publishCameoUse,

    /**
     * All of a video's cameo uses confirmed at publication in one activity (one task instead of one per cameo), in
     * order, each as publishCameoUse confirms it; stops at the first refusal, which ends the list. Confirming a use
     * again (a retry) is harmless: the cameo's decider records a use's publication once.
     */
    async publishCameoUses(input: { uses: CameoUseInput[] }): Promise<ConsentOutcome<{ grant_revision: number }>[]> {
      const outcomes: ConsentOutcome<{ grant_revision: number }>[] = [];
      for (const use of input.uses) {
        const outcome = await publishCameoUse(use);
        outcomes.push(outcome);
        if (!outcome.ok) break;
      }
      return outcomes;
    },
  };
}

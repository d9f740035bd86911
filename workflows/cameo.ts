// cameoWorkflow: one long-lived workflow per cameo (id `cameo-<cameoId>`, the name of the stream it writes). It
// records the registration, has the recording verified, then serializes every consent decision (permission
// changes, grants, revocations, use reservations, publication of a use, deletion) as Temporal Updates whose
// validators run the decider first: a refused request is answered before anything is recorded. The stream is
// hash-chained (domain/cameo/chain.ts) and written at exact revisions. A revocation tells the running generations it
// stops (signal consentRevoked). Before its history grows large it continues as new, carrying its state and its
// place in the stream.
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { CameoCommandRefused, decide, type CameoCommand } from '../domain/cameo/decide';
import type { CameoEvent, CameoRegisteredData, ConsentCode } from '../domain/cameo/events';
import { evolve, initialCameoState, type CameoState } from '../domain/cameo/state';
import {
  cameoStateQuery,
  changePermissionUpdate,
  consentRevokedSignal,
  deleteCameoUpdate,
  endMutualUpdate,
  grantAccessUpdate,
  publishUseUpdate,
  reserveUseUpdate,
  revokeAccessUpdate,
} from './definitions';
import { streamWriter, type WriterPosition } from './streamWriter';
import { takedownWorkflow } from './takedown';

const { verifyCameoRecording } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});

export interface CameoWorkflowInput {
  cameoId: string;
  /** Who registered it (the owner). */
  actor: string;
  /** The first run records this; a continued run carries its state instead. */
  registration?: CameoRegisteredData;
  carried?: { state: CameoState; position: WriterPosition };
}

const now = () => Math.floor(Date.now() / 1000);

/** Who a command is recorded for: the acting user, or for a use the user whose video it is. */
function actorOf(command: CameoCommand): string | undefined {
  const data = command.data as { by?: string; user_id?: string; owner_id?: string };
  if (command.type === 'ReserveUse') return data.user_id;
  return data.by ?? data.owner_id;
}

/** A refusal as the failure an Update caller sees: its type is the refusal code (consent_missing, forbidden, ...). */
function refusal(err: unknown): never {
  if (err instanceof CameoCommandRefused) throw ApplicationFailure.nonRetryable(err.message, err.code);
  throw err;
}

export async function cameoWorkflow(input: CameoWorkflowInput): Promise<CameoState> {
  const { cameoId } = input;
  const stream = workflowInfo().workflowId;
  let state: CameoState = input.carried?.state ?? initialCameoState;
  const writer = streamWriter(stream, { actor: input.actor, correlationId: cameoId }, input.carried ? input.carried.position : { chained: true });

  /** Decides `command` when its turn to append comes, records the events, and tells the videos it stopped. */
  const apply = async (command: CameoCommand): Promise<{ events: CameoEvent[]; firstRevision: number }> => {
    let firstRevision = -1;
    const events = await writer
      .append(
        () => {
          const decided = decide(command, state);
          firstRevision = state.revision + 1;
          state = decided.reduce(evolve, state);
          return decided;
        },
        command.type,
        { actor: actorOf(command) },
      )
      .catch(refusal);
    for (const e of events) {
      if (e.type !== 'CameoUseBlocked') continue;
      // The video's generation stops on it; a video that has already ended has nothing to stop.
      await getExternalWorkflowHandle(`video-${e.data.video_id}`)
        .signal(consentRevokedSignal, { cameo_id: cameoId, code: e.data.code as ConsentCode, reason: e.data.reason })
        .catch(() => undefined);
    }
    return { events, firstRevision };
  };
  /** The validator of an Update: the decider on the current state, nothing recorded. */
  const validate = (command: CameoCommand): void => {
    try {
      decide(command, state);
    } catch (err) {
      refusal(err);
    }
  };

  /** The verifier's verdict, or, when it cannot run at all (its retries spent), a refusal saying why. */
  const verifyRecording = (recordingKey: string, phrase: string | null) =>
    verifyCameoRecording({ cameoId, recordingKey, phrase }).catch((err: unknown) => {
      const cause = err instanceof ActivityFailure && err.cause ? err.cause.message : (err as Error).message;
      return {
        accepted: false,
        reason: `the recording could not be verified: ${cause}`,
        code: 'verification_failed' as const,
        checks: {},
        detections: [],
        likeness_key: null,
        verifier: 'none',
      };
    });

  /**
   * Verifies the recording again and records the verdict. It fails closed: a verification that cannot run at all (its
   * retries spent) refuses the likeness, as at registration, since a likeness nobody could check must not be opened.
   */
  const reverify = async (): Promise<void> => {
    if (!state.recordingKey) return;
    const result = await verifyRecording(state.recordingKey, state.phrase);
    await apply({
      type: 'RecordReverification',
      data: {
        accepted: result.accepted,
        reason: result.reason,
        code: result.code ?? null,
        checks: { ...result.checks, verifier: result.verifier },
        detections: result.detections ?? [],
        at: now(),
      },
    });
  };

  setHandler(cameoStateQuery, () => state);
  setHandler(
    changePermissionUpdate,
    async ({ by, permission }) => {
      const before = state.permission;
      await apply({ type: 'ChangePermission', data: { by, permission, at: now() } });
      // A character (no challenge phrase) opened to others is verified again first thing: a likeness of a person
      // that slipped through (an earlier verifier, a detector's miss) is taken back before anyone else uses it.
      if (state.phrase === null && state.status === 'verified' && before === 'only_me' && permission !== 'only_me' && patched('character-reverify')) {
        await reverify();
      }
      return state;
    },
    { validator: ({ by, permission }) => validate({ type: 'ChangePermission', data: { by, permission, at: now() } }) },
  );
  setHandler(
    grantAccessUpdate,
    async ({ by, user_id }) => {
      await apply({ type: 'GrantAccess', data: { by, user_id, at: now() } });
      const grant = state.grants[user_id]!;
      return { user_id, revision: grant.revision, granted_at: grant.granted_at };
    },
    { validator: ({ by, user_id }) => validate({ type: 'GrantAccess', data: { by, user_id, at: now() } }) },
  );
  setHandler(
    revokeAccessUpdate,
    async ({ by, user_id }) => {
      const at = now();
      // The revision of the CameoAccessRevoked event: the first of the events recorded for it.
      const { firstRevision } = await apply({ type: 'RevokeAccess', data: { by, user_id, at } });
      return { revision: firstRevision, revoked_at: at };
    },
    { validator: ({ by, user_id }) => validate({ type: 'RevokeAccess', data: { by, user_id, at: now() } }) },
  );
  setHandler(
    reserveUseUpdate,
    async ({ video_id, user_id, mutual }) => {
      await apply({ type: 'ReserveUse', data: { video_id, user_id, mutual, at: now() } });
      const use = state.uses[video_id]!;
      return { basis: use.basis, grant_revision: use.grant_revision, likeness_key: state.likenessKey };
    },
    { validator: ({ video_id, user_id, mutual }) => validate({ type: 'ReserveUse', data: { video_id, user_id, mutual, at: now() } }) },
  );
  setHandler(
    publishUseUpdate,
    async ({ video_id, mutual }) => {
      await apply({ type: 'PublishUse', data: { video_id, mutual, at: now() } });
      return { grant_revision: state.uses[video_id]!.grant_revision };
    },
    { validator: ({ video_id, mutual }) => validate({ type: 'PublishUse', data: { video_id, mutual, at: now() } }) },
  );
  setHandler(
    endMutualUpdate,
    async ({ by, user_id, reason }) => {
      const { events } = await apply({ type: 'EndMutual', data: { by, user_id, reason, at: now() } });
      return { blocked_video_ids: events.flatMap((e) => (e.type === 'CameoUseBlocked' ? [e.data.video_id] : [])) };
    },
    { validator: ({ by, user_id, reason }) => validate({ type: 'EndMutual', data: { by, user_id, reason, at: now() } }) },
  );
  setHandler(
    deleteCameoUpdate,
    async ({ by, take_down, as_admin }) => {
      const { firstRevision } = await apply({ type: 'DeleteCameo', data: { by, take_down, as_admin, at: now() } });
      return { revision: firstRevision };
    },
    { validator: ({ by, take_down, as_admin }) => validate({ type: 'DeleteCameo', data: { by, take_down, as_admin, at: now() } }) },
  );

  if (!input.carried) {
    if (!input.registration) throw ApplicationFailure.nonRetryable('a new cameo workflow needs its registration', 'invalid');
    await apply({ type: 'RegisterCameo', data: input.registration });
  }
  if (state.status === 'pending' && state.recordingKey) {
    // A verification that cannot run at all (its retries spent) rejects the cameo with the reason, rather than
    // leaving it pending with a failed workflow.
    const result = await verifyRecording(state.recordingKey, state.phrase);
    // A cameo deleted while its recording was checked stays deleted.
    if (state.status === 'pending') {
      await apply({
        type: 'RecordVerification',
        data: {
          accepted: result.accepted,
          likeness_key: result.likeness_key,
          reason: result.reason,
          // Absent from results of activities that ran before refusal codes, replayed from old histories.
          code: result.code ?? null,
          checks: { ...result.checks, verifier: result.verifier },
          detections: result.detections ?? [],
          at: now(),
        },
      });
    }
  }

  await condition(() => state.status === 'deleted' || workflowInfo().continueAsNewSuggested);
  await condition(allHandlersFinished);
  if (state.status === 'deleted') {
    if (state.takeDown) {
      // Every video that used the cameo comes down (drafts too); one still rendering was stopped by its blocked use.
      for (const videoId of Object.keys(state.uses)) {
        const child = await startChild(takedownWorkflow, {
          workflowId: `takedown-${videoId}-${cameoId}`,
          args: [{ videoId, by: input.actor, reason: `cameo ${cameoId} was deleted by its owner` }],
        });
        await child.result().catch(() => undefined);
      }
    }
    return state;
  }
  return await continueAsNew<typeof cameoWorkflow>({ cameoId, actor: input.actor, carried: { state, position: writer.position() } });
}

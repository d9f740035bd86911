// What the Cameos routes share. api/routes/cameos.ts builds one CameosContext and hands it to each group of routes
// (register.ts, read.ts, changes.ts, follows.ts): the options, who may see and change a cameo (folded from its
// `cameo-<id>` stream), the Cameo as a caller sees it, and consent changes as Updates on the cameo's workflow.
//
// Who may do what, decided here because it needs the cameo's state:
// - see a cameo: its owner, admins, auditors, moderators, and a user who holds a grant or whom consent lets use it now;
//   anyone else gets exactly what an unknown id gets (404 `cameo_not_found`), so existence does not leak;
// - change it (permission, grants, deletion): its owner; a caller who may see it but not change it gets 403 `forbidden`;
// - its appearances: owner and admins; its consent history: owner, auditors and admins (others 404).
import type { Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { consentFor } from '../../domain/cameo/decide';
import { cameoStream } from '../../domain/cameo/follows';
import { grantOf, initialCameoState, type CameoState } from '../../domain/cameo/state';
import type { BlobStore } from '../../infra/blobs';
import type { EventStore } from '../../infra/eventstore/port';
import type { FollowsQuery } from '../../projections/queries';
import { areMutuals, readCameo } from '../../infra/streams/cameos';
import { executeUpdateOrRefusal } from '../../infra/temporal/updates';
import type { User, UserStore } from '../../infra/users/port';
import { hasRole, problemResponse } from '../plugins/auth';
import { ProblemError } from '../plugins/errors';
import type { VideoReadModel } from '../videos/readModel';
import type { ChallengeStore } from './challenges';
import type { CameoObject, CharacterObject } from './schemas';

export interface CameosConfig {
  /** Where cameo workflows run: the orchestration queue, as generation workflows (tests use their own). */
  taskQueue: string;
  /** Largest recording accepted (413 beyond it). */
  recordingMaxBytes: number;
  /** How long registration waits for the workflow to record the cameo before answering it built from the request. */
  readWaitMs?: number;
}

export interface CameosRoutesOptions {
  temporal: { client: Client };
  eventStore: EventStore;
  blobs: BlobStore;
  users: Pick<UserStore, 'findById'>;
  /** The videos read model: the status of the videos a cameo appears in. */
  videos: VideoReadModel;
  challenges: ChallengeStore;
  config: CameosConfig;
  /** The follows read model and the uses an unfollow may block (projections/followsQuery.ts). */
  follows: FollowsQuery;
}

/** As params.ts accepts cameo ids in video requests; ids minted here are `cameo_` + 32 hex digits. */
export const CAMEO_ID = /^cameo_[A-Za-z0-9]{1,64}$/;
/** Roles that may see every cameo (not change it). */
const STAFF = ['admin', 'auditor', 'moderator'] as const;

export const nowS = () => Math.floor(Date.now() / 1000);

export function cameoNotFound(id: string): ProblemError {
  return new ProblemError({ status: 404, code: 'cameo_not_found', detail: `no cameo ${id}` });
}

function forbidden(id: string, what: string): ProblemError {
  return new ProblemError({ status: 403, code: 'forbidden', detail: `only the owner of cameo ${id} may ${what}` });
}

export const notFound = { 404: problemResponse('No such cameo, or one the caller may not see (never 403 there, so its existence does not leak)') };
export const ownerOnly = {
  ...notFound,
  403: problemResponse('The caller may see the cameo but is not its owner (`forbidden`)'),
  409: problemResponse('The cameo was deleted (`cameo_deleted`)'),
};

/** The Cameo as its viewer may see it: the owner and staff see every grant, anyone else only their own. */
export function toCameo(state: CameoState, viewer: User): CameoObject {
  const allGrants = viewer.id === state.ownerId || hasRole(viewer, ...STAFF);
  const grants = Object.entries(state.grants)
    .filter(([userId]) => allGrants || userId === viewer.id)
    .map(([userId, g]) => ({ user_id: userId, revision: g.revision, granted_at: g.granted_at }))
    .sort((a, b) => a.revision - b.revision);
  return {
    id: state.cameoId!,
    object: 'cameo',
    owner_id: state.ownerId!,
    display_name: state.displayName!,
    status: state.status,
    permission: state.permission,
    grants,
    created_at: state.createdAt!,
    reject_reason: state.status === 'rejected' ? state.rejectReason : null,
    reject_code: state.status === 'rejected' ? state.rejectCode : null,
    deleted_at: state.deletedAt,
  };
}

export function toCharacter(state: CameoState): CharacterObject {
  return { id: state.cameoId!, object: 'character', name: state.displayName!, created_at: state.createdAt!, status: state.status };
}

export function refuseIfDeleted(state: CameoState): void {
  if (state.status === 'deleted') throw new ProblemError({ status: 409, code: 'cameo_deleted', detail: `cameo ${state.cameoId} was deleted` });
}

export interface CameosContext extends CameosRoutesOptions {
  workflows: Client['workflow'];
  /** How long registration waits for the workflow to record the cameo (config.readWaitMs, 5 s by default). */
  readWaitMs: number;
  /** The cameo if the caller may see it; otherwise exactly what an unknown id answers. */
  visibleCameo(caller: User, id: string): Promise<CameoState>;
  /** The cameo for a change only its owner may make: 404 for who may not see it, 403 for who may see but not change. */
  ownedCameo(caller: User, id: string, what: string): Promise<CameoState>;
  /** The cameo for a read limited to its owner and some roles; anyone else gets 404 as for an unknown id. */
  cameoFor(caller: User, id: string, ...roles: Array<'admin' | 'auditor'>): Promise<CameoState>;
  /** Runs an Update; a refusal by the decider (or a workflow that is gone) becomes the problem a client can act on. */
  update<R, A extends [unknown, ...unknown[]]>(state: CameoState, definition: UpdateDefinition<R, A>, args: A): Promise<R>;
}

export function cameosContext(options: CameosRoutesOptions): CameosContext {
  const { eventStore } = options;
  const workflows = options.temporal.client.workflow;

  async function maySee(caller: User, state: CameoState): Promise<boolean> {
    if (!state.exists) return false;
    if (caller.id === state.ownerId || hasRole(caller, ...STAFF)) return true;
    // A deleted cameo is gone for everyone but its owner and staff.
    if (state.status === 'deleted') return false;
    if (grantOf(state, caller.id)) return true;
    const mutual = state.permission === 'mutuals' ? await areMutuals(eventStore, caller.id, state.ownerId!) : false;
    return consentFor(state, caller.id, { mutual }).allowed;
  }

  async function visibleCameo(caller: User, id: string): Promise<CameoState> {
    const state = CAMEO_ID.test(id) ? await readCameo(eventStore, id) : initialCameoState;
    if (!(await maySee(caller, state))) throw cameoNotFound(id);
    return state;
  }

  async function ownedCameo(caller: User, id: string, what: string): Promise<CameoState> {
    const state = await visibleCameo(caller, id);
    if (caller.id !== state.ownerId) throw forbidden(id, what);
    return state;
  }

  async function cameoFor(caller: User, id: string, ...roles: Array<'admin' | 'auditor'>): Promise<CameoState> {
    const state = CAMEO_ID.test(id) ? await readCameo(eventStore, id) : initialCameoState;
    if (!state.exists || (caller.id !== state.ownerId && !hasRole(caller, ...roles))) throw cameoNotFound(id);
    return state;
  }

  async function update<R, A extends [unknown, ...unknown[]]>(state: CameoState, definition: UpdateDefinition<R, A>, args: A): Promise<R> {
    const id = state.cameoId!;
    const outcome = await executeUpdateOrRefusal(workflows.getHandle(cameoStream(id)), definition, args);
    if (outcome.ok) return outcome.result;
    const { code, message } = outcome;
    switch (code) {
      case 'forbidden':
        throw new ProblemError({ status: 403, code: 'forbidden', detail: message });
      case 'invalid':
        throw new ProblemError({ status: 400, code: 'validation_failed', title: 'Invalid request', detail: message });
      case 'not_granted':
        throw new ProblemError({ status: 404, code: 'grant_not_found', detail: message });
      case 'not_found':
        throw cameoNotFound(id);
      case 'deleted':
      case 'not_running':
        // A deleted cameo's workflow has completed: whatever the request, the cameo is no longer there to change.
        throw new ProblemError({ status: 409, code: 'cameo_deleted', detail: `cameo ${id} was deleted (or its workflow is no longer running): ${message}` });
      default:
        throw new ProblemError({ status: 409, code, detail: message });
    }
  }

  return { ...options, workflows, readWaitMs: options.config.readWaitMs ?? 5000, visibleCameo, ownedCameo, cameoFor, update };
}

// Stream reads over the domain: a cameo's state and whom a user follows, folded from their streams in the event store.
// A query module both the API and the orchestration activities import (a read for a decision, never a read model).
import { verifyChain, type ChainReport } from '../../domain/cameo/chain';
import type { CameoEvent, UserEvent } from '../../domain/cameo/events';
import { cameoStream, followeesOf, userStream } from '../../domain/cameo/follows';
import { foldCameo, type CameoState } from '../../domain/cameo/state';
import { readStreamOrEmpty } from '../eventstore/readOrEmpty';
import type { EventStore } from '../eventstore/port';

async function readOrEmpty<E>(eventStore: EventStore, stream: string): Promise<E[]> {
  return (await readStreamOrEmpty(eventStore, stream)).map((e) => ({ type: e.type, data: e.data }) as E);
}

export async function readCameo(eventStore: EventStore, cameoId: string): Promise<CameoState> {
  return foldCameo(await readOrEmpty<CameoEvent>(eventStore, cameoStream(cameoId)));
}

/**
 * The cameo's consent history checked as a hash chain (domain/cameo/chain.ts), from its first event to its head: the
 * same report, head hash included, as GET /v1/cameos/{id}/consent-history gives.
 */
export async function readConsentChain(eventStore: EventStore, cameoId: string): Promise<ChainReport> {
  const events = await readStreamOrEmpty(eventStore, cameoStream(cameoId));
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  return verifyChain(
    events.map((e) => ({ revision: Number(e.revision), type: e.type, data: e.data, prev_hash: text(e.metadata.prev_hash), hash: text(e.metadata.hash) })),
  );
}

/** Whom `userId` follows now, folded from their stream (nobody when it does not exist yet). */
export async function readFollowees(eventStore: EventStore, userId: string): Promise<Set<string>> {
  return followeesOf(await readOrEmpty<UserEvent>(eventStore, userStream(userId)));
}

/** Whether `a` and `b` follow each other. */
export async function areMutuals(eventStore: EventStore, a: string, b: string): Promise<boolean> {
  if (a === b) return true;
  const [ofA, ofB] = await Promise.all([readFollowees(eventStore, a), readFollowees(eventStore, b)]);
  return ofA.has(b) && ofB.has(a);
}

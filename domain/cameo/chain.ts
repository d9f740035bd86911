// The hash chain of a consent history. Every event of a cameo stream carries, in its metadata, `prev_hash` (the
// hash of the event before it; GENESIS_HASH for the first) and `hash`, the SHA-256 of the canonical JSON of
// {prev_hash, revision, type, data}. Changing an event's data breaks its hash; removing or reordering events breaks
// the revisions or the links; so the whole history is verified from the first event to the head.
import { sha256Hex } from '../sha256';

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every level: the stored JSON (PostgreSQL jsonb) does not keep key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError(`cannot hash the number ${value}`);
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function eventHash(prevHash: string, revision: number, type: string, data: unknown): string {
  return sha256Hex(canonicalJson({ prev_hash: prevHash, revision, type, data }));
}

export interface ChainedEvent {
  revision: number;
  type: string;
  data: unknown;
  prev_hash: string | undefined;
  hash: string | undefined;
}

export interface ChainProblem {
  revision: number;
  problem: string;
}

export interface ChainReport {
  valid: boolean;
  /** The hash of the last event as recomputed; GENESIS_HASH for an empty history. */
  head_hash: string;
  checked: number;
  problems: ChainProblem[];
}

/** Verifies a whole history, first event first: every link, every hash, no revision missing. */
export function verifyChain(events: readonly ChainedEvent[]): ChainReport {
  const problems: ChainProblem[] = [];
  let prev = GENESIS_HASH;
  let expectedRevision = 0;
  for (const e of events) {
    if (e.revision !== expectedRevision) {
      problems.push({
        revision: e.revision,
        problem:
          e.revision > expectedRevision
            ? `revisions ${expectedRevision}..${e.revision - 1} are missing`
            : `revision ${e.revision} is out of order (expected ${expectedRevision})`,
      });
    }
    if (e.prev_hash !== prev) {
      problems.push({
        revision: e.revision,
        problem:
          e.prev_hash === undefined
            ? 'carries no prev_hash'
            : `prev_hash ${e.prev_hash.slice(0, 12)}… does not match the hash of the event before it (${prev.slice(0, 12)}…)`,
      });
    }
    const actual = eventHash(e.prev_hash ?? prev, e.revision, e.type, e.data);
    if (e.hash !== actual) {
      problems.push({
        revision: e.revision,
        problem: e.hash === undefined ? 'carries no hash' : `its content does not match its hash: the event was changed after it was recorded`,
      });
    }
    prev = e.hash ?? actual;
    expectedRevision = e.revision + 1;
  }
  return { valid: problems.length === 0, head_hash: prev, checked: events.length, problems };
}

// The hash chain of a consent history: a correct history verifies, and every kind of tampering is found and located.
import { canonicalJson, eventHash, GENESIS_HASH, verifyChain, type CameoEvent, type ChainedEvent } from '../../domain/cameo';

const history: CameoEvent[] = [
  {
    type: 'CameoRegistered',
    data: {
      cameo_id: 'cameo_1',
      owner_id: 'user_owner',
      display_name: 'Ada',
      permission: 'approved',
      challenge_id: 'ch_1',
      phrase: 'purple elephants',
      recording_key: 'rec.webm',
      at: 1000,
    },
  },
  { type: 'CameoVerified', data: { likeness_key: 'likeness.bin', checks: { liveness: 0.98, phrase: { said: true, score: 0.9 } }, at: 1001 } },
  { type: 'CameoAccessGranted', data: { user_id: 'user_friend', by: 'user_owner', at: 1002 } },
  { type: 'CameoUsed', data: { video_id: 'video_1', user_id: 'user_friend', basis: 'grant', grant_revision: 2, at: 1003 } },
  { type: 'CameoAccessRevoked', data: { user_id: 'user_friend', by: 'user_owner', at: 1004 } },
];

/** Stores events the way the event store does: each with its revision, the previous hash and its own hash. */
function chain(events: readonly CameoEvent[]): ChainedEvent[] {
  const stored: ChainedEvent[] = [];
  let prev = GENESIS_HASH;
  events.forEach((e, revision) => {
    const hash = eventHash(prev, revision, e.type, e.data);
    stored.push({ revision, type: e.type, data: e.data, prev_hash: prev, hash });
    prev = hash;
  });
  return stored;
}

const revisionsWithProblems = (events: ChainedEvent[]) => [...new Set(verifyChain(events).problems.map((p) => p.revision))];

describe('consent history hash chain', () => {
  it('accepts a correctly chained history and reports its head', () => {
    const stored = chain(history);
    expect(verifyChain(stored)).toEqual({ valid: true, head_hash: stored[4]!.hash, checked: 5, problems: [] });
    expect(stored[0]!.prev_hash).toBe(GENESIS_HASH);
    expect(stored[4]!.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(verifyChain([])).toEqual({ valid: true, head_hash: GENESIS_HASH, checked: 0, problems: [] });
  });

  it('accepts a history read back from storage with its keys in another order', () => {
    // PostgreSQL jsonb does not keep key order: rebuild every event's data with its keys reversed at every depth.
    const reverseKeys = (v: unknown): unknown =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(
            Object.entries(v)
              .reverse()
              .map(([k, x]) => [k, reverseKeys(x)]),
          )
        : v;
    const deepReordered = chain(history).map((e) => ({ ...e, data: reverseKeys(e.data) }));
    expect(Object.keys(deepReordered[1]!.data as object)).toEqual(['at', 'checks', 'likeness_key']);
    expect(verifyChain(deepReordered).valid).toBe(true);
  });

  it('finds a changed event and names its revision', () => {
    const stored = chain(history);
    stored[2] = { ...stored[2]!, data: { user_id: 'user_mallory', by: 'user_owner', at: 1002 } };
    const report = verifyChain(stored);
    expect(report.valid).toBe(false);
    expect(report.problems).toEqual([{ revision: 2, problem: expect.stringMatching(/changed after it was recorded/) }]);
  });

  it('finds a changed event even when its hash was recomputed, at the link after it', () => {
    const stored = chain(history);
    const data = { user_id: 'user_mallory', by: 'user_owner', at: 1002 };
    stored[2] = { ...stored[2]!, data, hash: eventHash(stored[2]!.prev_hash!, 2, 'CameoAccessGranted', data) };
    const report = verifyChain(stored);
    expect(report.valid).toBe(false);
    expect(report.problems).toEqual([{ revision: 3, problem: expect.stringMatching(/prev_hash .* does not match the hash of the event before it/) }]);
  });

  it('changes the head when the last event is rewritten, so an anchored head exposes it', () => {
    const stored = chain(history);
    const data = { user_id: 'user_someone_else', by: 'user_owner', at: 1004 };
    const rewritten = [...stored.slice(0, 4), { ...stored[4]!, data, hash: eventHash(stored[3]!.hash!, 4, 'CameoAccessRevoked', data) }];
    expect(verifyChain(rewritten).head_hash).not.toBe(verifyChain(stored).head_hash);
  });

  it('finds a removed event', () => {
    const stored = chain(history);
    const report = verifyChain([...stored.slice(0, 2), ...stored.slice(3)]);
    expect(report.valid).toBe(false);
    expect(report.problems).toEqual(
      expect.arrayContaining([
        { revision: 3, problem: 'revisions 2..2 are missing' },
        { revision: 3, problem: expect.stringMatching(/does not match the hash of the event before it/) },
      ]),
    );
    // Removing the last event leaves a valid but shorter chain: only the head shows it.
    expect(verifyChain(stored.slice(0, 4)).head_hash).not.toBe(verifyChain(stored).head_hash);
  });

  it('finds a reordered pair, renumbered or not', () => {
    const stored = chain(history);
    const swapped = [stored[0]!, stored[1]!, stored[3]!, stored[2]!, stored[4]!];
    const report = verifyChain(swapped);
    expect(report.valid).toBe(false);
    expect(report.problems).toContainEqual({ revision: 2, problem: expect.stringMatching(/out of order/) });
    expect(revisionsWithProblems(swapped)).toEqual(expect.arrayContaining([2, 3]));

    const renumbered = swapped.map((e, revision) => ({ ...e, revision }));
    expect(verifyChain(renumbered).valid).toBe(false);
    expect(revisionsWithProblems(renumbered)).toEqual(expect.arrayContaining([2, 3]));
  });

  it('finds a missing hash or link', () => {
    const stored = chain(history);
    const noHash = stored.map((e) => (e.revision === 1 ? { ...e, hash: undefined } : e));
    expect(verifyChain(noHash).problems).toEqual([{ revision: 1, problem: 'carries no hash' }]);
    const noLink = stored.map((e) => (e.revision === 3 ? { ...e, prev_hash: undefined } : e));
    expect(verifyChain(noLink).problems).toEqual([{ revision: 3, problem: 'carries no prev_hash' }]);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every depth and keeps array order', () => {
    const value = { b: 1, a: { d: [{ z: 1, y: [3, 1, 2] }, 'x'], c: null }, A: true };
    expect(canonicalJson(value)).toBe('{"A":true,"a":{"c":null,"d":[{"y":[3,1,2],"z":1},"x"]},"b":1}');
    expect(JSON.parse(canonicalJson(value))).toEqual(value);
  });

  it('does not depend on the order keys were written in', () => {
    const one = { user_id: 'u', nested: { first: 1, second: [{ p: 1, q: 2 }] }, at: 5 };
    const other = { at: 5, nested: { second: [{ q: 2, p: 1 }], first: 1 }, user_id: 'u' };
    expect(canonicalJson(one)).toBe(canonicalJson(other));
    expect(eventHash(GENESIS_HASH, 0, 'T', one)).toBe(eventHash(GENESIS_HASH, 0, 'T', other));
    expect(eventHash(GENESIS_HASH, 0, 'T', one)).not.toBe(eventHash(GENESIS_HASH, 1, 'T', one));
  });

  it('writes what JSON would store: no undefined members, no non-finite numbers', () => {
    expect(canonicalJson({ a: undefined, b: [undefined, 1], s: 'é"\n' })).toBe('{"b":[null,1],"s":"é\\"\\n"}');
    expect(canonicalJson(null)).toBe('null');
    expect(() => canonicalJson({ n: NaN })).toThrow(/cannot hash the number NaN/);
    expect(() => canonicalJson([Infinity])).toThrow(TypeError);
  });
});

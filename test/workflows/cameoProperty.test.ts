// A property over the live cameoWorkflow: random interleavings of grants, revocations, permission changes, use
// reservations (what a generation asks before rendering), completion checks and publications, sent as the Updates
// the API and the generations send. Whatever the order: no use is published or passes the completion check after a
// revocation or a narrowing that covered it, nothing refused is recorded, the chain verifies, and replaying the
// stream gives the live workflow's state. (The decider's own property test runs thousands of such sequences; this
// one proves the workflow around it keeps the same promises.)
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { verifyChain } from '../../domain/cameo/chain';
import { decide, CameoCommandRefused } from '../../domain/cameo/decide';
import type { CameoEvent, Permission } from '../../domain/cameo/events';
import { foldCameo } from '../../domain/cameo/state';
import { executeUpdateOrRefusal } from '../../infra/temporal/updates';
import { cameoWorkflow } from '../../workflows/cameo';
import {
  cameoStateQuery,
  changePermissionUpdate,
  grantAccessUpdate,
  publishUseUpdate,
  reserveUseUpdate,
  revokeAccessUpdate,
} from '../../workflows/definitions';
import { liveCameoClip } from '../support/clips';
import { eventually } from '../support/env';
import { usePipeline } from '../support/pipeline';
import { cameoRegistration } from '../support/videos';

const OWNER = 'user_owner';
const USERS = ['user_a', 'user_b', 'user_c'];
const hex = () => randomUUID().replace(/-/g, '');

type Step =
  | { kind: 'grant'; user: string }
  | { kind: 'revoke'; user: string }
  | { kind: 'permission'; permission: Permission }
  | { kind: 'reserve'; user: string; mutual: boolean }
  | { kind: 'check'; video: number; mutual: boolean }
  | { kind: 'publish'; video: number; mutual: boolean };

const user = fc.constantFrom(...USERS);
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('grant' as const), user }),
  fc.record({ kind: fc.constant('revoke' as const), user }),
  fc.record({ kind: fc.constant('permission' as const), permission: fc.constantFrom<Permission>('only_me', 'approved', 'mutuals', 'everyone') }),
  fc.record({ kind: fc.constant('reserve' as const), user, mutual: fc.boolean() }),
  fc.record({ kind: fc.constant('check' as const), video: fc.nat(5), mutual: fc.boolean() }),
  fc.record({ kind: fc.constant('publish' as const), video: fc.nat(5), mutual: fc.boolean() }),
);

describe('cameoWorkflow under random interleavings', () => {
  const stack = usePipeline('cameoprop');
  let recording: Buffer;

  beforeAll(async () => {
    recording = fs.readFileSync(await liveCameoClip());
  });

  it('never lets a revoked or narrowed use through, records nothing refused, and its stream replays to its live state', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 8, maxLength: 16 }), async (steps) => {
        const cameoId = `cameo_${hex()}`;
        const recordingKey = `cameos/${cameoId}/recording`;
        await stack.pipeline.blobs.put(recordingKey, recording);
        const handle = await stack.env.client.workflow.start(
          cameoWorkflow,
          cameoRegistration({ cameoId, ownerId: OWNER, recordingKey, taskQueue: stack.pipeline.taskQueue, displayName: 'P', at: 1 }),
        );
        await eventually(async () => ((await handle.query(cameoStateQuery)).status === 'verified' ? true : undefined), 'the cameo verified');

        const videos: { id: string; user: string }[] = [];
        /** Per video: a revocation or narrowing recorded while its use was reserved and not yet published. */
        const stoppedBy = new Map<string, string>();
        for (const s of steps) {
          const before = await handle.query(cameoStateQuery);
          const stream = async () => (await stack.store.readStream(`cameo-${cameoId}`)).length;
          const lengthBefore = await stream();
          let outcome: { ok: boolean; code?: string };
          if (s.kind === 'grant') outcome = await executeUpdateOrRefusal(handle, grantAccessUpdate, [{ by: OWNER, user_id: s.user }]);
          else if (s.kind === 'revoke') outcome = await executeUpdateOrRefusal(handle, revokeAccessUpdate, [{ by: OWNER, user_id: s.user }]);
          else if (s.kind === 'permission') outcome = await executeUpdateOrRefusal(handle, changePermissionUpdate, [{ by: OWNER, permission: s.permission }]);
          else if (s.kind === 'reserve') {
            const id = `video_${hex()}`;
            outcome = await executeUpdateOrRefusal(handle, reserveUseUpdate, [{ video_id: id, user_id: s.user, mutual: s.mutual }]);
            if (outcome.ok) videos.push({ id, user: s.user });
          } else {
            const video = videos[s.video % Math.max(1, videos.length)];
            if (!video) continue;
            if (s.kind === 'publish') outcome = await executeUpdateOrRefusal(handle, publishUseUpdate, [{ video_id: video.id, mutual: s.mutual }]);
            else {
              // The completion check of a generation: the decider on the state read from the stream.
              const stored = (await stack.store.readStream(`cameo-${cameoId}`)).map((e) => ({ type: e.type, data: e.data }) as CameoEvent);
              try {
                decide({ type: 'CheckUse', data: { video_id: video.id, mutual: s.mutual } }, foldCameo(stored));
                outcome = { ok: true };
              } catch (err) {
                if (!(err instanceof CameoCommandRefused)) throw err;
                outcome = { ok: false, code: err.code };
              }
            }
            // Revocation wins: a use stopped earlier never completes or publishes, whatever came after.
            if (stoppedBy.has(video.id)) expect({ step: s, outcome, stoppedBy: stoppedBy.get(video.id) }).toMatchObject({ outcome: { ok: false } });
          }
          const after = await handle.query(cameoStateQuery);
          // A refused request leaves the stream and the state as they were.
          if (!outcome.ok) {
            expect(await stream()).toBe(lengthBefore);
            expect(after).toEqual(before);
          }
          for (const v of videos) {
            const use = after.uses[v.id];
            if (use?.status === 'blocked' && before.uses[v.id]?.status === 'active') stoppedBy.set(v.id, `${s.kind} ${JSON.stringify(s)}`);
          }
        }

        const stored = await stack.store.readStream(`cameo-${cameoId}`);
        const live = await handle.query(cameoStateQuery);
        expect(live).toEqual(foldCameo(stored.map((e) => ({ type: e.type, data: e.data }) as CameoEvent)));
        const meta = (e: (typeof stored)[number]) => e.metadata as { prev_hash?: string; hash?: string };
        expect(
          verifyChain(stored.map((e) => ({ revision: Number(e.revision), type: e.type, data: e.data, prev_hash: meta(e).prev_hash, hash: meta(e).hash })))
            .valid,
        ).toBe(true);
        // No use is published after it was blocked, in the recorded order.
        const blocked = new Set<string>();
        for (const e of stored) {
          const data = e.data as { video_id?: string };
          if (e.type === 'CameoUseBlocked') blocked.add(data.video_id!);
          if (e.type === 'CameoUsePublished') expect(blocked.has(data.video_id!)).toBe(false);
        }
        await handle.terminate('property run over');
      }),
      { numRuns: 6 },
    );
  });
});

// cameoWorkflow on the dev server with the real verification, and the generation pipeline using cameos: Updates
// refused by their validators record nothing; the stream is hash-chained; the live state equals the stream folded;
// the workflow continues as new and goes on; a video without consent stops before GPU work, one whose consent is
// revoked mid-render stops with consent_revoked, and publishing confirms each use with its grant revision.
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { verifyChain } from '../../domain/cameo/chain';
import type { CameoEvent, Permission, VerificationCode } from '../../domain/cameo/events';
import { foldCameo, type CameoState } from '../../domain/cameo/state';
import type { VideoEvent, VideoRequestedData } from '../../domain/video';
import { executeUpdateOrRefusal } from '../../infra/temporal/updates';
import { generationWorkflow, publishWorkflow } from '../../workflows';
import { cameoWorkflow } from '../../workflows/cameo';
import { cameoStateQuery, changePermissionUpdate, deleteCameoUpdate, grantAccessUpdate, revokeAccessUpdate } from '../../workflows/definitions';
import { cameoClip, cameoTestPhrase, type CameoPicture, type CameoSound } from '../support/clips';
import { eventually } from '../support/env';
import { videoRequest, usePipeline } from '../support/pipeline';
import { cameoRegistration } from '../support/videos';

const OWNER = 'user_owner';
const FRIEND = 'user_friend';
const STRANGER = 'user_stranger';
const hex = () => randomUUID().replace(/-/g, '');

describe('cameoWorkflow', () => {
  const stack = usePipeline('cameo');
  let recording: Buffer;

  beforeAll(async () => {
    recording = fs.readFileSync(await cameoClip('live', 'phrase'));
  });

  const streamOf = async (cameoId: string) =>
    (await stack.store.readStream(`cameo-${cameoId}`)).map((e) => ({
      revision: Number(e.revision),
      type: e.type,
      data: e.data,
      metadata: e.metadata as Record<string, string>,
    }));

  /** Registers a cameo of OWNER and waits until its recording is judged. */
  async function registerCameo(permission: Permission = 'approved'): Promise<{ cameoId: string; handle: WorkflowHandle<typeof cameoWorkflow> }> {
    const cameoId = `cameo_${hex()}`;
    const recordingKey = `cameos/${cameoId}/recording`;
    await stack.pipeline.blobs.put(recordingKey, recording);
    const handle = await stack.env.client.workflow.start(
      cameoWorkflow,
      cameoRegistration({ cameoId, ownerId: OWNER, recordingKey, taskQueue: stack.pipeline.taskQueue, permission }),
    );
    const status = await eventually(async () => {
      const state = await handle.query(cameoStateQuery);
      return state.status === 'pending' ? undefined : state.status;
    }, 'the recording judged');
    expect(status).toBe('verified');
    // The query shows the decision as soon as it is decided; its events reach the stream a moment later.
    await eventually(async () => ((await streamOf(cameoId)).some((e) => e.type === 'CameoVerified') ? true : undefined), 'the verdict on the stream');
    return { cameoId, handle };
  }

  async function expectLiveEqualsStream(cameoId: string, handle: WorkflowHandle): Promise<CameoState> {
    const live = await handle.query(cameoStateQuery);
    const stored = await streamOf(cameoId);
    expect(live).toEqual(foldCameo(stored.map((e) => ({ type: e.type, data: e.data }) as CameoEvent)));
    const chain = verifyChain(
      stored.map((e) => ({ revision: e.revision, type: e.type, data: e.data, prev_hash: e.metadata.prev_hash, hash: e.metadata.hash })),
    );
    expect(chain).toMatchObject({ valid: true, checked: stored.length });
    return live;
  }

  it('records registration and verification, grants and revocations on a hash-chained stream equal to its live state', async () => {
    const { cameoId, handle } = await registerCameo();
    const granted = await handle.executeUpdate(grantAccessUpdate, { args: [{ by: OWNER, user_id: FRIEND }] });
    expect(granted).toMatchObject({ user_id: FRIEND, revision: 5 });
    const revoked = await handle.executeUpdate(revokeAccessUpdate, { args: [{ by: OWNER, user_id: FRIEND }] });
    expect(revoked.revision).toBe(6);
    const stored = await streamOf(cameoId);
    expect(stored.map((e) => e.type)).toEqual([
      'CameoRegistered',
      'CameoVerificationChecked',
      'CameoVerificationChecked',
      'CameoVerificationChecked',
      'CameoVerified',
      'CameoAccessGranted',
      'CameoAccessRevoked',
    ]);
    // Each detector's verdict is on the stream with what it measured and the thresholds it was held to.
    expect(stored.slice(1, 4).map((e) => e.data)).toEqual([
      expect.objectContaining({ check: 'face', passed: true, code: null, scores: expect.objectContaining({ nonrigid_motion: expect.any(Number) }) }),
      expect.objectContaining({ check: 'speech', passed: true, code: null, thresholds: { speech_probability: 0.5, min_speech_fraction: 0.5 } }),
      expect.objectContaining({ check: 'phrase', passed: true, code: null, scores: expect.objectContaining({ heard: cameoTestPhrase(), matched_words: 1 }) }),
    ]);
    expect(stored[4]!.data).toMatchObject({ likeness_key: `cameos/${cameoId}/likeness.json` });
    expect(stored.every((e) => e.metadata.actor === OWNER)).toBe(true);
    await expectLiveEqualsStream(cameoId, handle);
  });

  it('refuses an invalid Update in its validator: nothing is recorded, and the refusal names its code', async () => {
    const { cameoId, handle } = await registerCameo();
    const before = (await streamOf(cameoId)).length;
    const byStranger = await executeUpdateOrRefusal(handle, grantAccessUpdate, [{ by: STRANGER, user_id: FRIEND }]);
    expect(byStranger).toMatchObject({ ok: false, code: 'forbidden' });
    const selfGrant = await executeUpdateOrRefusal(handle, grantAccessUpdate, [{ by: OWNER, user_id: OWNER }]);
    expect(selfGrant).toMatchObject({ ok: false, code: 'invalid' });
    const notGranted = await executeUpdateOrRefusal(handle, revokeAccessUpdate, [{ by: OWNER, user_id: STRANGER }]);
    expect(notGranted).toMatchObject({ ok: false, code: 'not_granted' });
    const badPermission = await executeUpdateOrRefusal(handle, changePermissionUpdate, [{ by: OWNER, permission: 'whoever' as Permission }]);
    expect(badPermission).toMatchObject({ ok: false, code: 'invalid' });
    expect((await streamOf(cameoId)).length).toBe(before);
    // The refused Updates left no trace in the workflow's history either: validators reject before acceptance.
    const history = await handle.fetchHistory();
    const accepted = history.events!.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length;
    expect(accepted).toBe(0);
  });

  it('continues as new before its history grows large, carrying its state, revision and chain', async () => {
    const { cameoId, handle } = await registerCameo();
    const firstRun = (await handle.describe()).runId;
    // The test server suggests continue-as-new at 200 history events; each grant or revoke adds about ten.
    for (let i = 0; i < 15; i++) {
      await handle.executeUpdate(grantAccessUpdate, { args: [{ by: OWNER, user_id: FRIEND }] });
      await handle.executeUpdate(revokeAccessUpdate, { args: [{ by: OWNER, user_id: FRIEND }] });
    }
    await eventually(async () => ((await handle.describe()).runId !== firstRun ? true : undefined), 'a new run', 10_000);
    const granted = await stack.env.client.workflow.getHandle(`cameo-${cameoId}`).executeUpdate(grantAccessUpdate, { args: [{ by: OWNER, user_id: FRIEND }] });
    expect(granted.revision).toBe(35);
    const live = await expectLiveEqualsStream(cameoId, stack.env.client.workflow.getHandle(`cameo-${cameoId}`));
    expect(live.grants[FRIEND]).toMatchObject({ revision: 35 });
  });

  it.each<[string, CameoPicture, CameoSound, VerificationCode, 'face' | 'speech' | 'phrase']>([
    ['the photograph panned and zoomed', 'photo', 'phrase', 'no_live_face', 'face'],
    ['a talking clip with no face', 'noise', 'phrase', 'no_face', 'face'],
    ['a face over music', 'live', 'music', 'no_speech', 'speech'],
    ['a face reading another sentence', 'live', 'other', 'phrase_mismatch', 'phrase'],
  ])('rejects %s with its code, recording every check with its scores before the rejection', async (_what, picture, sound, code, failing) => {
    const cameoId = `cameo_${hex()}`;
    const recordingKey = `cameos/${cameoId}/recording`;
    await stack.pipeline.blobs.put(recordingKey, fs.readFileSync(await cameoClip(picture, sound)));
    const handle = await stack.env.client.workflow.start(
      cameoWorkflow,
      cameoRegistration({ cameoId, ownerId: OWNER, recordingKey, taskQueue: stack.pipeline.taskQueue }),
    );
    // The live state turns `rejected` as the events are decided, a moment before their append lands: wait for the stream.
    const stored = await eventually(async () => {
      const events = await streamOf(cameoId);
      return events.some((e) => e.type === 'CameoRejected') ? events : undefined;
    }, 'the rejection recorded');
    expect(stored.map((e) => e.type)).toEqual([
      'CameoRegistered',
      'CameoVerificationChecked',
      'CameoVerificationChecked',
      'CameoVerificationChecked',
      'CameoRejected',
    ]);
    const checks = stored.slice(1, 4).map((e) => e.data as { check: string; passed: boolean; code: string | null; scores: object; thresholds: object });
    expect(checks.map((c) => c.check)).toEqual(['face', 'speech', 'phrase']);
    expect(checks.find((c) => c.check === failing)).toMatchObject({ passed: false, code });
    for (const c of checks) {
      expect(Object.keys(c.scores).length).toBeGreaterThan(0);
      expect(Object.keys(c.thresholds).length).toBeGreaterThan(0);
    }
    expect(stored[4]!.data).toMatchObject({ code, reason: expect.any(String) });
    expect(await expectLiveEqualsStream(cameoId, handle)).toMatchObject({ status: 'rejected', rejectCode: code });
  });

  describe('with the generation pipeline', () => {
    const request = (cameoIds: string[], owner = FRIEND, overrides: Partial<VideoRequestedData> = {}): VideoRequestedData =>
      videoRequest('a red ball bouncing', { owner_id: owner, seed: 11, cameo_ids: cameoIds, ...overrides });
    const startVideo = (req: VideoRequestedData) =>
      stack.env.client.workflow.start(generationWorkflow, {
        taskQueue: stack.pipeline.taskQueue,
        workflowId: `video-${req.video_id}`,
        args: [{ request: req, actor: req.owner_id, gpuTaskQueue: stack.pipeline.gpuTaskQueue }],
      });
    const videoEvents = async (req: VideoRequestedData) =>
      (await stack.store.readStream(`video-${req.video_id}`)).map((e) => ({ type: e.type, data: e.data }) as VideoEvent);

    it('stops a video whose owner has no consent before any GPU work: blocked, consent_missing', async () => {
      const { cameoId } = await registerCameo('approved');
      const req = request([cameoId], STRANGER);
      const result = await (await startVideo(req)).result();
      expect(result).toMatchObject({ status: 'failed', stage: 'blocked' });
      const events = await videoEvents(req);
      expect(events.map((e) => e.type)).toEqual(['VideoRequested', 'PromptModerated', 'VideoBlocked']);
      expect(events[2]!.data).toMatchObject({ code: 'consent_missing' });
      expect((events[2]!.data as { message: string }).message).toContain(cameoId);
      // Nothing about this video reached the cameo's history.
      expect((await streamOf(cameoId)).some((e) => (e.data as { video_id?: string }).video_id === req.video_id)).toBe(false);
    });

    it('renders a granted cameo, reserves its use and publishes it with the grant revision behind it', async () => {
      const { cameoId, handle } = await registerCameo('approved');
      const granted = await handle.executeUpdate(grantAccessUpdate, { args: [{ by: OWNER, user_id: FRIEND }] });
      const req = request([cameoId]);
      const result = await (await startVideo(req)).result();
      expect(result).toMatchObject({ status: 'completed' });
      const events = await videoEvents(req);
      expect(events.find((e) => e.type === 'CameoUseReserved')!.data).toMatchObject({ cameo_id: cameoId, basis: 'grant', grant_revision: granted.revision });

      await stack.env.client.workflow.execute(publishWorkflow, {
        taskQueue: stack.pipeline.taskQueue,
        workflowId: `publish-${req.video_id}`,
        args: [{ videoId: req.video_id, actor: FRIEND }],
      });
      const published = (await videoEvents(req)).find((e) => e.type === 'VideoPublished')!;
      expect(published.data).toMatchObject({ cameo_uses: [{ cameo_id: cameoId, grant_revision: granted.revision }] });
      const cameoTypes = (await streamOf(cameoId)).map((e) => e.type);
      expect(cameoTypes.slice(-2)).toEqual(['CameoUsed', 'CameoUsePublished']);
      // Published: a later revocation no longer stops it.
      await handle.executeUpdate(revokeAccessUpdate, { args: [{ by: OWNER, user_id: FRIEND }] });
      expect((await streamOf(cameoId)).map((e) => e.type).slice(-1)).toEqual(['CameoAccessRevoked']);
      await expectLiveEqualsStream(cameoId, handle);
    });

    it('renders the likeness: the same video with and without the cameo differs', async () => {
      const { cameoId, handle } = await registerCameo('approved');
      await handle.executeUpdate(grantAccessUpdate, { args: [{ by: OWNER, user_id: FRIEND }] });
      const withCameo = request([cameoId]);
      const without = request([]);
      await Promise.all([(await startVideo(withCameo)).result(), (await startVideo(without)).result()]);
      const contentOf = async (req: VideoRequestedData) =>
        stack.pipeline.blobs.get(((await videoEvents(req)).find((e) => e.type === 'Muxed')!.data as { content_key: string }).content_key);
      expect((await contentOf(withCameo)).equals(await contentOf(without))).toBe(false);
    });

    it('stops a job whose cameo consent is revoked while it renders: consent_revoked, no content, revoke then blocked use in the history', async () => {
      const { cameoId, handle } = await registerCameo('approved');
      await handle.executeUpdate(grantAccessUpdate, { args: [{ by: OWNER, user_id: FRIEND }] });
      const req = request([cameoId], FRIEND, { seconds: 8, size: '512x512' });
      const video = await startVideo(req);
      await eventually(async () => ((await videoEvents(req)).some((e) => e.type === 'VideoChunkRendered') ? true : undefined), 'a first chunk');
      await handle.executeUpdate(revokeAccessUpdate, { args: [{ by: OWNER, user_id: FRIEND }] });
      const result = await video.result();
      expect(result).toMatchObject({ status: 'failed', stage: 'blocked' });
      const events = await videoEvents(req);
      expect(events.at(-1)).toMatchObject({ type: 'VideoBlocked', data: { code: 'consent_revoked' } });
      expect(events.some((e) => e.type === 'Muxed' || e.type === 'VideoCompleted')).toBe(false);
      const history = (await streamOf(cameoId)).map((e) => ({ type: e.type, video: (e.data as { video_id?: string }).video_id }));
      const revokedAt = history.findIndex((e) => e.type === 'CameoAccessRevoked');
      expect(history.slice(revokedAt)).toEqual([
        { type: 'CameoAccessRevoked', video: undefined },
        { type: 'CameoUseBlocked', video: req.video_id },
      ]);
      expect(history.findIndex((e) => e.type === 'CameoUsed' && e.video === req.video_id)).toBeLessThan(revokedAt);
      // The GPU work stopped: nothing keeps rendering for a blocked video.
      await eventually(() => (stack.pipeline.inFlight() === 0 ? true : undefined), 'GPU work to stop', 10_000);
      // Publishing it is refused with the consent code.
      const publish = stack.env.client.workflow.execute(publishWorkflow, {
        taskQueue: stack.pipeline.taskQueue,
        workflowId: `publish-${req.video_id}`,
        args: [{ videoId: req.video_id, actor: FRIEND }],
      });
      await expect(publish).rejects.toBeInstanceOf(WorkflowFailedError);
    });

    it('refuses to publish a completed draft whose cameo consent was revoked after completion', async () => {
      const { cameoId, handle } = await registerCameo('approved');
      await handle.executeUpdate(grantAccessUpdate, { args: [{ by: OWNER, user_id: FRIEND }] });
      const req = request([cameoId]);
      expect(await (await startVideo(req)).result()).toMatchObject({ status: 'completed' });
      await handle.executeUpdate(revokeAccessUpdate, { args: [{ by: OWNER, user_id: FRIEND }] });
      const failure = await stack.env.client.workflow
        .execute(publishWorkflow, {
          taskQueue: stack.pipeline.taskQueue,
          workflowId: `publish-${req.video_id}`,
          args: [{ videoId: req.video_id, actor: FRIEND }],
        })
        .catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect((failure as WorkflowFailedError).cause).toMatchObject({ type: 'consent_revoked' });
      expect((await videoEvents(req)).some((e) => e.type === 'VideoPublished')).toBe(false);
    });

    it('deletes a cameo with take_down: its completed videos come down, and no new use is possible', async () => {
      const { cameoId, handle } = await registerCameo('approved');
      await handle.executeUpdate(grantAccessUpdate, { args: [{ by: OWNER, user_id: FRIEND }] });
      const req = request([cameoId]);
      expect(await (await startVideo(req)).result()).toMatchObject({ status: 'completed' });
      await handle.executeUpdate(deleteCameoUpdate, { args: [{ by: OWNER, take_down: true }] });
      expect(await handle.result()).toMatchObject({ status: 'deleted', takeDown: true });
      const takenDown = (await videoEvents(req)).find((e) => e.type === 'VideoTakenDown');
      expect(takenDown?.data).toMatchObject({ by: OWNER });
      expect((takenDown!.data as { reason: string }).reason).toContain(cameoId);
      // The workflow has ended; a new video naming the cameo is stopped for want of consent.
      const next = request([cameoId]);
      expect(await (await startVideo(next)).result()).toMatchObject({ status: 'failed', stage: 'blocked' });
      expect((await videoEvents(next)).at(-1)).toMatchObject({ type: 'VideoBlocked', data: { code: 'consent_missing' } });
    });
  });
});

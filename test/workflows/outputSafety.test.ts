// The output review's safety classifier end to end on the dev server: real inference on the CPU (the reference pack
// and open_nsfw), real ffmpeg. Each chunk's sampled frames are scored on the GPU queue as the chunks render; the
// output's moderation case records every frame (its stored JPEG) and score, and a score at or over the policy's
// threshold blocks the video.
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_POLICY_PATH, loadPolicy } from '../../activities/moderation';
import type { ScoredFrame } from '../../domain/moderation/outputSafety';
import type { VideoEvent, VideoRequestedData } from '../../domain/video';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { testEnv } from '../support/env';
import { videoRequest as request, usePipeline } from '../support/pipeline';

const ffmpeg = createFfmpeg({ ffmpegPath: testEnv.ffmpegPath });
const shipped = loadPolicy(DEFAULT_POLICY_PATH);

interface SafetyDetails {
  model: string;
  threshold: number;
  max_nsfw: number;
  frames: ScoredFrame[];
  over_threshold: string[];
}

function outputCase(stack: ReturnType<typeof usePipeline>) {
  return async (req: VideoRequestedData) => {
    const events = (await stack.store.readStream(`video-${req.video_id}`)).map((e) => ({ type: e.type, data: e.data }) as VideoEvent);
    const moderated = events.find((e) => e.type === 'OutputModerated')!.data as { case_id: string };
    const caseEvents = await stack.store.readStream(`moderation-${moderated.case_id}`);
    const verdict = caseEvents.find((e) => e.type === 'AutomatedVerdict')!.data as {
      verdict: string;
      categories: string[];
      reasons: string[];
      details: { generalFlashesPerSecond: number; safety: SafetyDetails };
    };
    return { events, caseEvents, verdict, safety: verdict.details.safety };
  };
}

describe('the output safety classifier, with the shipped policy', () => {
  const stack = usePipeline('safety');
  const caseOf = outputCase(stack);

  it.each([
    ['three red balls bouncing', { seconds: 2 }],
    ['five bouncy balls in a storm', { seconds: 1, size: '512x512', style: 'noir', camera: 'zoom' }],
  ] as const)('passes a reference render (%s): every sampled frame scored under the threshold and recorded on the case', async (prompt, overrides) => {
    const req = request(prompt, overrides);
    expect(await stack.generate(req)).toMatchObject({ status: 'completed', stage: 'completed' });
    const { verdict, safety, caseEvents } = await caseOf(req);
    expect(caseEvents.map((e) => e.type)).toEqual(['CaseOpened', 'AutomatedVerdict', 'CaseClosed']);
    expect(verdict).toMatchObject({ verdict: 'allow', categories: [], reasons: [] });
    // The flash analysis's details stay where they were; the classifier's sit beside them.
    expect(verdict.details.generalFlashesPerSecond).toBe(0);
    expect(safety).toMatchObject({ model: 'open_nsfw', threshold: shipped.outputSafety.nsfwThreshold, over_threshold: [] });
    // Three frames of each 24-frame chunk, a third of a second apart.
    const chunks = req.seconds;
    expect(safety.frames).toHaveLength(3 * chunks);
    expect(safety.frames.map((f) => f.frame)).toEqual(Array.from({ length: chunks }, () => [4, 12, 20]).flat());
    for (const f of safety.frames) {
      expect(f.nsfw).toBeGreaterThanOrEqual(0);
      expect(f.nsfw).toBeLessThan(shipped.outputSafety.nsfwThreshold);
      // What the classifier saw is in the blob store: the 224 x 224 crop, as a JPEG.
      const file = path.join(stack.pipeline.dataDir, path.basename(f.blob_key));
      fs.writeFileSync(file, await stack.pipeline.blobs.get(f.blob_key));
      expect((await ffmpeg.probe(file)).video).toMatchObject({ width: 224, height: 224 });
    }
    expect(safety.max_nsfw).toBe(Math.max(...safety.frames.map((f) => f.nsfw)));
  });
});

describe('the output safety classifier, with a threshold every frame reaches', () => {
  // The reference pack renders nothing unsafe, so this policy's threshold sits under what its frames score: the
  // classifier's real scores on a real render then block it, as an unsafe render would be with the shipped one.
  const threshold = 1e-6;
  const stack = usePipeline('safetylow', {
    policy: { ...shipped, outputSafety: { model: 'open_nsfw', nsfwThreshold: threshold, reviewThreshold: threshold } },
  });
  const caseOf = outputCase(stack);

  it('blocks the video as moderation_blocked, the case recording the frames over the threshold and their scores', async () => {
    const req = request('three red balls bouncing', { seconds: 1 });
    expect(await stack.generate(req)).toMatchObject({ status: 'failed', stage: 'blocked' });
    const { events, verdict, safety } = await caseOf(req);
    expect(events.slice(-3).map((e) => e.type)).toEqual(['Muxed', 'OutputModerated', 'VideoBlocked']);
    const blocked = events.at(-1)!.data as { code: string; message: string };
    expect(blocked.code).toBe('moderation_blocked');
    expect(blocked.message).toMatch(
      /^output blocked by moderation \(case case_[0-9a-f]{32}\): sexual or nude content in the rendered frames: 3 of 3 sampled frames scored 0\.000001 or more/,
    );
    expect(verdict).toMatchObject({ verdict: 'block', categories: ['sexual'] });
    expect(safety.threshold).toBe(threshold);
    expect(safety.frames).toHaveLength(3);
    expect(safety.over_threshold).toEqual(safety.frames.map((f) => f.blob_key));
    for (const f of safety.frames) {
      expect(f.segment_key).toBe(`videos/${req.video_id}/chunks/000.ts`);
      expect(f.nsfw).toBeGreaterThanOrEqual(threshold);
      expect((await stack.pipeline.blobs.get(f.blob_key)).subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8])); // a JPEG
    }
    // A blocked output never completes: no VideoCompleted, nothing to publish.
    expect(events.some((e) => e.type === 'VideoCompleted')).toBe(false);
  });
});

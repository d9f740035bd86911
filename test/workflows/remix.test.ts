// Remixes and extensions end to end on the dev server: real moderation, real inference on the CPU, real ffmpeg mux.
// A remix keeps its parent's layout and changes what its prompt's words name (read from the recorded scenes); an
// extension continues its source so that the seam cannot be seen: it equals, frame for frame, one longer render.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { SceneDescribedData, VideoEvent, VideoRequestedData } from '../../domain/video';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { videoRequest, usePipeline } from '../support/pipeline';
import { testEnv } from '../support/env';

const request = (prompt: string, overrides: Partial<VideoRequestedData> = {}) => videoRequest(prompt, { seconds: 1, seed: 11, ...overrides });

const ffmpeg = createFfmpeg({ ffmpegPath: testEnv.ffmpegPath });

const B = 8;
const rows = (xs: number[], stride: number) => Array.from({ length: xs.length / stride }, (_, i) => xs.slice(i * stride, (i + 1) * stride));
const activeBodies = (s: SceneDescribedData) => rows(s.bodies, B).filter((b) => b[0]! > 0.5);
/** Which bodies exist, their radii and where they start. */
const layout = (s: SceneDescribedData) => rows(s.bodies, B).map((b, i) => [b[0], b[4], ...s.initial_state.slice(i * 4, i * 4 + 2)]);
const colours = (s: SceneDescribedData) => activeBodies(s).map((b) => b.slice(1, 4));
const isBlue = (rgb: number[]) => rgb[2]! > 0.8 && rgb[0]! < 0.2 && rgb[1]! < 0.4;
const isRed = (rgb: number[]) => rgb[0]! > 0.8 && rgb[1]! < 0.2 && rgb[2]! < 0.2;

describe('remixes and extensions', () => {
  const stack = usePipeline('remix');

  const run = stack.generate;
  const eventsOf = async (videoId: string) => (await stack.store.readStream(`video-${videoId}`)).map((e) => ({ type: e.type, data: e.data }) as VideoEvent);
  const sceneOf = async (videoId: string) => (await eventsOf(videoId)).find((e) => e.type === 'SceneDescribed')!.data as SceneDescribedData;
  const contentOf = async (videoId: string) => {
    const muxed = (await eventsOf(videoId)).find((e) => e.type === 'Muxed')!.data as { content_key: string; duration_s: number };
    return { ...muxed, bytes: await stack.pipeline.blobs.get(muxed.content_key) };
  };
  const decode = async (bytes: Buffer) => {
    const file = path.join(stack.pipeline.dataDir, `${randomUUID()}.mp4`);
    fs.writeFileSync(file, bytes);
    return ffmpeg.decodeToRgb(file, 256, 256);
  };

  it("a remix chain keeps each parent's layout and changes only what each prompt names", async () => {
    const a = request('three red balls');
    const b = request('make them blue', { remixed_from_video_id: a.video_id, owner_id: 'user_b' });
    const c = request('add rain', { remixed_from_video_id: b.video_id, owner_id: 'user_c' });
    for (const req of [a, b, c]) expect(await run(req)).toMatchObject({ status: 'completed' });

    const [sa, sb, sc] = [await sceneOf(a.video_id), await sceneOf(b.video_id), await sceneOf(c.video_id)];
    expect([sa.source, sb.source, sc.source]).toEqual(['prompt', 'remix', 'remix']);
    expect([sa.prompt_used, sb.prompt_used, sc.prompt_used]).toEqual(['three red balls', 'make them blue', 'add rain']);
    expect(activeBodies(sa)).toHaveLength(3);
    expect(colours(sa).every(isRed)).toBe(true);
    // B: A's three bodies where A had them, blue.
    expect(layout(sb)).toEqual(layout(sa));
    expect(colours(sb).every(isBlue)).toBe(true);
    expect(sb.ambient[3]).toBe(0);
    // C: B's layout and colours, with rain.
    expect(layout(sc)).toEqual(layout(sb));
    expect(colours(sc)).toEqual(colours(sb));
    expect(sc.ambient[3]).toBe(1);
    expect(sc.world.slice(0, 4)).toEqual(sb.world.slice(0, 4));

    // Each a new MP4 of its own.
    const contents = [await contentOf(a.video_id), await contentOf(b.video_id), await contentOf(c.video_id)];
    expect(new Set(contents.map((m) => m.content_key)).size).toBe(3);
    for (const m of contents) expect(m.bytes.length).toBeGreaterThan(1000);
    expect(contents[0]!.bytes.equals(contents[1]!.bytes)).toBe(false);
    expect(contents[1]!.bytes.equals(contents[2]!.bytes)).toBe(false);

    // VideoRemixed on each parent, naming the child and who made it.
    const remixedOn = async (videoId: string) => (await eventsOf(videoId)).filter((e) => e.type === 'VideoRemixed').map((e) => e.data);
    expect(await remixedOn(a.video_id)).toEqual([expect.objectContaining({ child_video_id: b.video_id, by: 'user_b' })]);
    expect(await remixedOn(b.video_id)).toEqual([expect.objectContaining({ child_video_id: c.video_id, by: 'user_c' })]);
    expect(await remixedOn(c.video_id)).toEqual([]);
  });

  it('an extension of a 4 s video by 4 s equals, frame for frame, an 8 s render of the same scene and seed', async () => {
    const source = request('two green balls bouncing', { seconds: 4 });
    const whole = request('two green balls bouncing', { seconds: 8 });
    const [sourceRun, wholeRun] = [run(source), run(whole)];
    expect(await sourceRun).toMatchObject({ status: 'completed' });
    const extension = request('and they keep bouncing', { seconds: 8, extended_from_video_id: source.video_id });
    const [extended] = await Promise.all([run(extension), wholeRun]);
    expect(extended).toMatchObject({ status: 'completed', chunks: { total: 4 } });

    const events = await eventsOf(extension.video_id);
    const plan = events.find((e) => e.type === 'ChunksPlanned')!.data as { chunks: { start_frame: number; num_frames: number }[]; from_frame: number };
    expect(plan.from_frame).toBe(96);
    expect(plan.chunks.map((c) => c.start_frame)).toEqual([96, 120, 144, 168]);
    const scene = await sceneOf(extension.video_id);
    expect(scene.source).toBe('extension');
    const { source: _s, at: _a, ...sourceScene } = await sceneOf(source.video_id);
    expect(scene).toMatchObject(sourceScene);

    const [ext, full, src] = [await contentOf(extension.video_id), await contentOf(whole.video_id), await contentOf(source.video_id)];
    expect(ext.duration_s).toBeCloseTo(8, 1);
    const [extFrames, fullFrames, srcFrames] = [await decode(ext.bytes), await decode(full.bytes), await decode(src.bytes)];
    expect(extFrames.count).toBe(192);
    expect(fullFrames.count).toBe(192);
    expect(srcFrames.count).toBe(96);
    const frameBytes = 256 * 256 * 3;
    // Its content starts with the source.
    expect(Buffer.from(extFrames.frames.subarray(0, 96 * frameBytes)).equals(Buffer.from(srcFrames.frames))).toBe(true);
    // And the whole of it is the 8 s render: no seam.
    for (let f = 0; f < 192; f++) {
      const same = Buffer.from(extFrames.frames.subarray(f * frameBytes, (f + 1) * frameBytes)).equals(
        Buffer.from(fullFrames.frames.subarray(f * frameBytes, (f + 1) * frameBytes)),
      );
      if (!same) throw new Error(`frame ${f} of the extension differs from the 8 s render`);
    }
  });
});

// Audio and video stay sample-exact through the mux with every ffmpeg this machine has: the one the pipeline uses
// (FFMPEG_PATH, else the pinned build) and the system's, when there is one. The AAC encoder's priming must be taken
// out by the file itself (the MP4 edit list), so a sound placed at sample s decodes at sample s, not 1024 later.
import fs from 'node:fs';
import path from 'node:path';
import { createFfmpeg, type Ffmpeg, FfmpegNotFound, resolveFfmpeg } from '../../infra/media/ffmpeg';
import { testEnv } from '../support/env';

const RATE_HZ = 48000;
const FPS = 24;
const CLICKS = [15000, 40000, 66073, 90000];

function available(): Ffmpeg[] {
  const used = createFfmpeg({ ffmpegPath: testEnv.ffmpegPath });
  try {
    const system = resolveFfmpeg(undefined, { pinnedPath: null });
    if (system.version !== used.binary.version) return [used, createFfmpeg({ ffmpegPath: undefined }, { pinnedPath: null })];
  } catch (err) {
    if (!(err instanceof FfmpegNotFound)) throw err;
  }
  return [used];
}

/** Two seconds of stereo silence with a decaying 5.3 kHz burst starting at full swing at each click. */
function clicks(): Int16Array {
  const pcm = new Int16Array(2 * RATE_HZ * 2);
  for (const c of CLICKS) {
    for (let i = 0; i < 480; i++) {
      const v = Math.round(16000 * Math.exp(-i / 96) * Math.cos(i * 0.7));
      pcm[(c + i) * 2] = v;
      pcm[(c + i) * 2 + 1] = v;
    }
  }
  return pcm;
}

/** The shift of `decoded` against `source` around `at` (left channel) that correlates best, within ±maxLag. */
function lagAt(source: Int16Array, decoded: Float32Array, at: number, maxLag = 512): number {
  let best = 0;
  let bestScore = -Infinity;
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    let score = 0;
    for (let i = 0; i < 480; i++) score += (source[(at + i) * 2]! / 32768) * (decoded[(at + i + lag) * 2] ?? 0);
    if (score > bestScore) [best, bestScore] = [lag, score];
  }
  return best;
}

describe.each(available().map((f) => [f.binary.version, f] as const))('the mux with %s', (_version, ffmpeg) => {
  it('keeps every sound on the sample it was rendered at', async () => {
    const dir = fs.mkdtempSync(path.join(testEnv.tmpDir, 'sync-'));
    const segments: string[] = [];
    for (let s = 0; s < 2; s++) {
      const outFile = path.join(dir, `chunk-${s}.ts`);
      await ffmpeg.encodeRgbSegment({
        frames: new Uint8Array(FPS * 64 * 64 * 3).fill(60 + 80 * s),
        width: 64,
        height: 64,
        fps: FPS,
        startFrame: s * FPS,
        outFile,
      });
      segments.push(outFile);
    }
    const source = clicks();
    const audioFile = path.join(dir, 'audio.pcm');
    fs.writeFileSync(audioFile, Buffer.from(source.buffer));
    const content = path.join(dir, 'video.mp4');
    await ffmpeg.mux({
      segments,
      audioFile,
      sampleRateHz: RATE_HZ,
      channels: 2,
      fps: FPS,
      width: 64,
      height: 64,
      content,
      thumbnail: path.join(dir, 'thumb.jpg'),
      spritesheet: path.join(dir, 'sprites.jpg'),
    });

    const info = await ffmpeg.probe(content);
    expect(info.videoFrames).toBe(2 * FPS);
    const decoded = await ffmpeg.decodeAudio(content, RATE_HZ, 2);
    expect(decoded.length / 2).toBeGreaterThanOrEqual(source.length / 2);
    expect(CLICKS.map((c) => lagAt(source, decoded, c))).toEqual(CLICKS.map(() => 0));
  });
});

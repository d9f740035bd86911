// The ffmpeg module: which binary it runs (FFMPEG_PATH, else the pinned build, else the system one) and which it
// refuses, an RGB segment that decodes back to the frames it was made of, and decodes that come back whole however
// late ffmpeg exits.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../infra/config';
import { createFfmpeg, FfmpegNotFound, resolveFfmpeg } from '../../infra/media/ffmpeg';
import { readTools } from '../../infra/tools';
import { testEnv } from '../support/env';

const PINNED = readTools().ffmpeg!.path!;

describe('ffmpeg', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-ffmpeg-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** A stand-in ffmpeg that answers -version with `version` and fails everything else with `message`. */
  const fake = (name: string, version: string, message: string) => {
    const script = path.join(tmp, name);
    fs.writeFileSync(script, `#!/bin/sh\nfor a in "$@"; do [ "$a" = -version ] && { echo "${version}"; exit 0; }; done\necho "${message}" >&2\nexit 1\n`, {
      mode: 0o755,
    });
    return script;
  };

  it('runs the binary FFMPEG_PATH names', () => {
    const link = path.join(tmp, 'my-ffmpeg');
    fs.symlinkSync(PINNED, link);
    const config = loadConfig({ FFMPEG_PATH: link });
    const binary = resolveFfmpeg(config.ffmpegPath);
    expect(binary).toMatchObject({ path: link, source: 'FFMPEG_PATH' });
    expect(binary.version).toMatch(/^ffmpeg version /);
  });

  it('refuses an FFMPEG_PATH that does not run rather than quietly using another ffmpeg', () => {
    expect(() => resolveFfmpeg(path.join(tmp, 'missing-ffmpeg'))).toThrow(FfmpegNotFound);
    expect(() => resolveFfmpeg(path.join(tmp, 'missing-ffmpeg'))).toThrow(/FFMPEG_PATH=.*missing-ffmpeg: ENOENT/);
  });

  it('refuses an ffmpeg older than 5.1, or one without libx264, naming which and why', () => {
    const old = fake('old-ffmpeg', 'ffmpeg version 4.4.2-0ubuntu0.22.04.1 Copyright (c) 2000-2021 the FFmpeg developers', 'unused');
    expect(() => resolveFfmpeg(old)).toThrow(/FFMPEG_PATH=.*old-ffmpeg: ffmpeg version 4\.4\.2-0ubuntu0\.22\.04\.1 .*older than 5\.1, the oldest supported/);
    const noX264 = fake('no-x264-ffmpeg', 'ffmpeg version 6.1.1 Copyright (c) 2000-2023 the FFmpeg developers', "Unknown encoder 'libx264'");
    expect(() => resolveFfmpeg(noX264)).toThrow(/cannot encode H\.264 with libx264 \(exit status 1: Unknown encoder 'libx264'\)/);
  });

  it('without FFMPEG_PATH uses the pinned build the bootstrap installed, else the system ffmpeg', () => {
    expect(resolveFfmpeg(undefined)).toMatchObject({ path: PINNED, source: 'pinned' });
    expect(resolveFfmpeg(undefined, { pinnedPath: null, systemCommand: PINNED })).toMatchObject({ path: PINNED, source: 'system' });
    const broken = fake('broken-pinned', 'ffmpeg version 3.4.8', 'unused');
    expect(resolveFfmpeg(undefined, { pinnedPath: broken, systemCommand: PINNED })).toMatchObject({ path: PINNED, source: 'system' });
    const none = () => resolveFfmpeg(undefined, { systemCommand: 'reelforge-no-such-ffmpeg', pinnedPath: path.join(tmp, 'nothing') });
    expect(none).toThrow(/no working ffmpeg: pinned .*nothing: ENOENT; system reelforge-no-such-ffmpeg: ENOENT/);
  });

  it('encodes RGB frames into an H.264 MPEG-TS segment that decodes back to the same frames', async () => {
    const ffmpeg = createFfmpeg({ ffmpegPath: testEnv.ffmpegPath });
    const width = 64;
    const height = 48;
    const count = 12;
    // Flat colour blocks that change per frame: lossy coding keeps them close; a wrong colour matrix or size would not.
    const frames = new Uint8Array(count * width * height * 3);
    for (let f = 0; f < count; f++) {
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const i = ((f * height + y) * width + x) * 3;
          frames[i] = x < width / 2 ? 220 : 30;
          frames[i + 1] = y < height / 2 ? 40 + f * 10 : 200;
          frames[i + 2] = 128;
        }
      }
    }
    const outFile = path.join(tmp, 'seg.ts');
    const { bytes } = await ffmpeg.encodeRgbSegment({ frames, width, height, fps: 24, startFrame: 24, outFile });
    expect(bytes).toBe(fs.statSync(outFile).size);

    const info = await ffmpeg.probe(outFile);
    expect(info.video).toMatchObject({ codec: 'h264', pixelFormat: 'yuv420p', width, height, fps: 24 });
    expect(info.videoFrames).toBe(count);

    const decoded = await ffmpeg.decodeToRgb(outFile, width, height);
    expect(decoded.count).toBe(count);
    let error = 0;
    for (let i = 0; i < frames.length; i++) error += Math.abs(decoded.frames[i]! - frames[i]!);
    expect(error / frames.length).toBeLessThan(4);
  });

  it('names the problem when the frames do not make whole frames of the size', async () => {
    const ffmpeg = createFfmpeg({ ffmpegPath: testEnv.ffmpegPath });
    await expect(ffmpeg.encodeRgbSegment({ frames: new Uint8Array(100), width: 64, height: 48, fps: 24, outFile: path.join(tmp, 'x.ts') })).rejects.toThrow(
      'not a whole number of 64x48 RGB frames',
    );
    await expect(
      ffmpeg.encodeRgbSegment({ frames: new Uint8Array(63 * 48 * 3), width: 63, height: 48, fps: 24, outFile: path.join(tmp, 'x.ts') }),
    ).rejects.toThrow('not a positive even size');
  });

  describe('when ffmpeg exits well after closing its output, as on a busy machine', () => {
    // The real ffmpeg behind a script that holds on to its stderr and exit status for 300 ms after its stdout is
    // closed. fluent-ffmpeg, which we once used, ended such a command 20 ms after the output closed and killed ffmpeg.
    let slow: ReturnType<typeof createFfmpeg>;
    let segment: string;
    beforeAll(async () => {
      const real = createFfmpeg({ ffmpegPath: testEnv.ffmpegPath });
      const script = path.join(tmp, 'slow-exit-ffmpeg');
      fs.writeFileSync(script, `#!/bin/sh\n"${real.binary.path}" "$@"\nstatus=$?\nexec 1>&-\nsleep 0.3\nexit $status\n`, { mode: 0o755 });
      slow = createFfmpeg({ ffmpegPath: script });
      segment = path.join(tmp, 'slow.ts');
      await real.encodeRgbSegment({ frames: new Uint8Array(6 * 32 * 32 * 3).fill(90), width: 32, height: 32, fps: 24, outFile: segment });
    });

    it('returns every frame and sample instead of failing with "Output stream closed"', async () => {
      expect((await slow.decodeToRgb(segment, 32, 32)).count).toBe(6);
      expect((await slow.decodeFrames(segment, { width: 16, height: 16 })).count).toBe(6);
      const clip = path.join(tmp, 'clip.wav');
      fs.writeFileSync(clip, wav(new Int16Array(8000).fill(1000), 8000));
      expect((await slow.decodeAudio(clip, 8000, 1)).length).toBe(8000);
    });

    it('still reports a failed decode with its exit status', async () => {
      const broken = path.join(tmp, 'broken.ts');
      fs.writeFileSync(broken, 'not a video at all');
      await expect(slow.decodeToRgb(broken, 32, 32)).rejects.toMatchObject({ name: 'FfmpegFailed', exitCode: expect.any(Number) });
    });
  });
});

/** A mono 16-bit PCM WAV file. */
function wav(samples: Int16Array, rateHz: number): Buffer {
  const data = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rateHz, 24);
  header.writeUInt32LE(rateHz * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

// Cameo recording verification on real files made by ffmpeg: what a talking clip measures, each way an upload is
// refused and why, the likeness taken from an accepted clip, and the activity that stores it.
import fs from 'node:fs';
import path from 'node:path';
import { deriveLikeness, InvalidLikeness, TEXTURE_SIZE, TEXTURE_VALUES, VOICE_HARMONICS } from '../../infra/media/likeness';
import { createClipVerifier, type CameoVerifier } from '../../activities/cameo/verifier';
import { createCameoVerificationActivities, loadLikeness } from '../../activities/cameo/verify';
import { FsBlobStore } from '../../infra/blobs';
import { createLogger } from '../../infra/logger';
import { createFfmpeg, FfmpegFailed } from '../../infra/media/ffmpeg';
import { sniffMedia } from '../../infra/media/sniff';
import * as clips from '../support/clips';
import { testEnv } from '../support/env';

const ffmpeg = createFfmpeg({ ffmpegPath: testEnv.ffmpegPath });
const verifier = createClipVerifier({ ffmpeg });
const ascii = (text: string) => new Uint8Array(Buffer.from(text, 'latin1'));

/** Each clip is made once per file and shared: the checks only read it. */
function once(make: () => Promise<string>): () => Promise<string> {
  let made: Promise<string> | undefined;
  return () => (made ??= make());
}
const talkingClip = once(() => clips.talkingClip(4));
const stillVideo = once(() => clips.stillVideo());
const silentClip = once(() => clips.silentClip());
const { corruptClip, mutedClip, sampleFile, shortClip, stillClip, textFile, toneClip, truncatedClip } = clips;

describe('sniffMedia', () => {
  it.each([
    ['mp4', { kind: 'video', container: 'mp4' }],
    ['mov', { kind: 'video', container: 'quicktime' }],
    ['webm', { kind: 'video', container: 'webm' }],
    ['mkv', { kind: 'video', container: 'matroska' }],
    ['ts', { kind: 'video', container: 'mpegts' }],
    ['avi', { kind: 'video', container: 'avi' }],
    ['png', { kind: 'image', format: 'png' }],
    ['jpg', { kind: 'image', format: 'jpeg' }],
    ['gif', { kind: 'image', format: 'gif' }],
    ['webp', { kind: 'image', format: 'webp' }],
  ] as const)('recognises a .%s file ffmpeg wrote by its first bytes', async (ext, expected) => {
    const head = fs.readFileSync(await sampleFile(ext)).subarray(0, 512);
    expect(sniffMedia(head)).toEqual(expected);
  });

  it('goes by content, not by name: text in clip.mp4 is unknown', () => {
    const file = textFile();
    expect(path.basename(file)).toBe('clip.mp4');
    expect(sniffMedia(fs.readFileSync(file))).toEqual({ kind: 'unknown' });
  });

  it('tells apart what shares a signature, and gives up on too little', () => {
    const ftyp = (brand: string) => ascii(`\0\0\0\x18ftyp${brand}\0\0\0\0isom`);
    expect(sniffMedia(ftyp('heic'))).toEqual({ kind: 'unknown' }); // an iPhone photo, not a video
    expect(sniffMedia(ftyp('M4V '))).toEqual({ kind: 'video', container: 'mp4' });
    expect(sniffMedia(ascii('RIFF\x24\0\0\0WAVEfmt '))).toEqual({ kind: 'unknown' });
    expect(sniffMedia(ascii('\0\0\0\x10moov\0\0\0\x08mvhd'))).toEqual({ kind: 'video', container: 'quicktime' });
    expect(sniffMedia(Uint8Array.from([0x1a, 0x45, 0xdf, 0xa3, 0x80]))).toEqual({ kind: 'video', container: 'matroska' });
    const m2ts = new Uint8Array(400);
    m2ts[4] = 0x47;
    m2ts[196] = 0x47;
    expect(sniffMedia(m2ts)).toEqual({ kind: 'video', container: 'mpegts' });
    expect(sniffMedia(Uint8Array.from([0x47]))).toEqual({ kind: 'unknown' });
    expect(sniffMedia(new Uint8Array(0))).toEqual({ kind: 'unknown' });
  });
});

describe('the clip verifier', () => {
  it('accepts a person saying the phrase on camera, with every check measured', async () => {
    const report = await verifier.verify({ file: await talkingClip(), phrase: 'purple elephants dance at noon' });
    expect(report).toMatchObject({ accepted: true, reason: null });
    expect(report.checks).toMatchObject({ container: 'mp4', video_stream: true, audio_stream: true, width: 192, height: 144 });
    expect(report.checks.duration_s).toBeCloseTo(4, 1);
    expect(report.checks.frame_change).toBeGreaterThan(1);
    // The voice speaks in syllables from 0.3 s to 0.3 s before the end, with pauses: most of the window, not all.
    expect(report.checks.voiced_fraction).toBeGreaterThan(0.5);
    expect(report.checks.voiced_fraction).toBeLessThan(0.9);
    expect(report.checks.speech_rms_dbfs).toBeGreaterThan(-30);
    expect(report.checks.speech_rms_dbfs).toBeLessThan(-6);
    expect(report.checks.level_spread_db).toBeGreaterThan(20);
  });

  it.each<[string, () => Promise<string> | string, RegExp]>([
    ['a still image', stillClip, /^the file is a still image \(png\), not a video recording/],
    ['a text file named clip.mp4', textFile, /^the file is not a video file/],
    ['a corrupt file', corruptClip, /^the recording is damaged.*cannot be (read|decoded)/],
    ['an upload cut off halfway', truncatedClip, /^the recording is damaged or cut off: only [23]\.\d s of its 6\.0 s of video can be decoded/],
    ['a video without an audio track', mutedClip, /^the recording has no audio stream/],
    ['a 1 s clip', shortClip, /^the recording is 1\.0 s long; it must be between 3 and 30 s/],
    ['a still video', stillVideo, /^the picture does not change: a still image, not a person on camera$/],
    ['a silent clip', silentClip, /^no speech: the audio is silent while the phrase should be spoken$/],
    ['a steady tone', toneClip, /^the sound is a steady tone or noise, not speech/],
  ])('rejects %s, saying why', async (_what, make, reason) => {
    const report = await verifier.verify({ file: await make(), phrase: null });
    expect(report.accepted).toBe(false);
    expect(report.reason).toMatch(reason);
  });

  it('measures what it could before the check that failed', async () => {
    const still = await verifier.verify({ file: await stillVideo(), phrase: null });
    expect(still.checks.frame_change).toBeLessThan(0.5);
    expect(still.checks.voiced_fraction).toBeGreaterThan(0.5);
    const silent = await verifier.verify({ file: await silentClip(), phrase: null });
    expect(silent.checks).toMatchObject({ voiced_fraction: 0, speech_rms_dbfs: -100 });
    expect(silent.checks.frame_change).toBeGreaterThan(1);
    const image = await verifier.verify({ file: await stillClip(), phrase: null });
    expect(image.checks).toMatchObject({ container: null, video_stream: false, duration_s: null });
  });
});

describe('the clip verifier when ffmpeg itself fails', () => {
  it('given ffmpeg killed while decoding the sound, when a good clip is verified, then it throws (the activity retries) instead of calling the clip damaged', async () => {
    const killed = createClipVerifier({
      ffmpeg: { ...ffmpeg, decodeAudio: async () => Promise.reject(new FfmpegFailed('decoding the audio', '', { signal: 'SIGKILL' })) },
    });
    await expect(killed.verify({ file: await talkingClip(), phrase: null })).rejects.toMatchObject({ name: 'FfmpegFailed', exitCode: undefined });
  });

  it('given a file ffmpeg exits on, then the failure carries its exit status', async () => {
    const file = path.join(fs.mkdtempSync(path.join(testEnv.tmpDir, 'garbage-')), 'garbage.mp4');
    fs.writeFileSync(file, Buffer.alloc(4096, 7));
    const failure = await ffmpeg.decodeAudio(file).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(FfmpegFailed);
    expect((failure as FfmpegFailed).exitCode).toBeGreaterThan(0);
  });
});

describe('deriveLikeness', () => {
  it('takes a 32x32 RGB texture of the centre of the picture and 8 voice weights', async () => {
    const likeness = await deriveLikeness(ffmpeg, await clips.talkingClip(4, { centre: [210, 30, 40] }));
    expect(likeness.texture).toHaveLength(TEXTURE_VALUES);
    expect(likeness.texture.every((v) => v >= 0 && v <= 1)).toBe(true);
    const mean = [0, 1, 2].map((c) => likeness.texture.filter((_, i) => i % 3 === c).reduce((a, b) => a + b, 0) / (TEXTURE_SIZE * TEXTURE_SIZE));
    expect(mean[0]).toBeGreaterThan(2 * mean[1]!);
    expect(mean[0]).toBeGreaterThan(2 * mean[2]!);
    // The frame's green margins lie outside the centre square: no column of the texture shows them.
    for (let y = 0; y < TEXTURE_SIZE; y++) {
      for (const x of [0, TEXTURE_SIZE - 1]) {
        const i = (y * TEXTURE_SIZE + x) * 3;
        expect(likeness.texture[i]!).toBeGreaterThan(likeness.texture[i + 1]!);
      }
    }
    expect(likeness.voice).toHaveLength(VOICE_HARMONICS);
    expect(likeness.voice.every(Number.isFinite)).toBe(true);
  });

  it('reads the timbre from the harmonics of the voice', async () => {
    // Amplitudes 1/h: energy falls as 1/h^2, so the fundamental carries about 65% of harmonics 1..8.
    const dark = await deriveLikeness(ffmpeg, await talkingClip());
    expect(dark.voice.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(dark.voice[0]).toBeCloseTo(0.655, 1);
    for (let h = 1; h < VOICE_HARMONICS; h++) expect(dark.voice[h]!).toBeLessThan(dark.voice[h - 1]!);
    // A voice whose third harmonic is loudest.
    const bright = await deriveLikeness(ffmpeg, await clips.talkingClip(4, { harmonics: [0.2, 0.3, 1, 0.3, 0.1] }));
    expect(bright.voice.indexOf(Math.max(...bright.voice))).toBe(2);
    expect(bright.voice[2]).toBeGreaterThan(0.7);
  });
});

describe('verifyCameoRecording', () => {
  const logger = createLogger({ level: 'silent', name: 'test' });
  const blobStore = () => new FsBlobStore(fs.mkdtempSync(path.join(testEnv.tmpDir, 'cameo-blobs-')));

  it('stores the likeness of an accepted recording, which loadLikeness reads back', async () => {
    const blobs = blobStore();
    await blobs.put('uploads/cameo_1/recording.mp4', fs.readFileSync(await talkingClip()));
    const { verifyCameoRecording } = createCameoVerificationActivities({ blobs, ffmpeg, logger });
    const result = await verifyCameoRecording({ cameoId: 'cameo_1', recordingKey: 'uploads/cameo_1/recording.mp4', phrase: 'blue tigers sing' });
    expect(result).toMatchObject({ accepted: true, reason: null, likeness_key: 'cameos/cameo_1/likeness.json', verifier: 'clip-checks-v1' });
    expect(result.checks.frame_change).toBeGreaterThan(1);
    const likeness = await loadLikeness(blobs, 'cameos/cameo_1/likeness.json');
    expect(likeness.texture).toHaveLength(TEXTURE_VALUES);
    expect(likeness.voice).toHaveLength(VOICE_HARMONICS);
    expect(likeness.voice[0]).toBeGreaterThan(likeness.voice[1]!);
  });

  it('stores nothing for a rejected recording', async () => {
    const blobs = blobStore();
    await blobs.put('uploads/cameo_2/recording.mp4', fs.readFileSync(await silentClip()));
    const { verifyCameoRecording } = createCameoVerificationActivities({ blobs, ffmpeg, logger });
    const result = await verifyCameoRecording({ cameoId: 'cameo_2', recordingKey: 'uploads/cameo_2/recording.mp4', phrase: null });
    expect(result).toMatchObject({ accepted: false, likeness_key: null, reason: expect.stringMatching(/^no speech/) });
    expect(await blobs.list('cameos/')).toEqual([]);
  });

  it('takes another verifier in place of the clip checks', async () => {
    const blobs = blobStore();
    await blobs.put('uploads/cameo_3/recording.mp4', fs.readFileSync(textFile()));
    const calls: Array<{ phrase: string | null }> = [];
    const faceMatch: CameoVerifier = {
      name: 'face-match-test',
      async verify(input) {
        calls.push({ phrase: input.phrase });
        return {
          accepted: false,
          reason: 'the face does not match the account owner',
          checks: {
            container: null,
            video_stream: false,
            audio_stream: false,
            duration_s: null,
            width: null,
            height: null,
            frame_change: null,
            voiced_fraction: null,
            speech_rms_dbfs: null,
          },
        };
      },
    };
    const { verifyCameoRecording } = createCameoVerificationActivities({ blobs, ffmpeg, logger, verifier: faceMatch });
    const result = await verifyCameoRecording({ cameoId: 'cameo_3', recordingKey: 'uploads/cameo_3/recording.mp4', phrase: 'red kites' });
    expect(result).toMatchObject({ accepted: false, reason: 'the face does not match the account owner', verifier: 'face-match-test', likeness_key: null });
    expect(calls).toEqual([{ phrase: 'red kites' }]);
  });

  it('fails without retries when the recording is not in the blob store', async () => {
    const { verifyCameoRecording } = createCameoVerificationActivities({ blobs: blobStore(), ffmpeg, logger });
    await expect(verifyCameoRecording({ cameoId: 'cameo_4', recordingKey: 'uploads/cameo_4/recording.mp4', phrase: null })).rejects.toMatchObject({
      type: 'RecordingNotFound',
      nonRetryable: true,
    });
  });

  it('loadLikeness refuses a blob of the wrong shape, naming it', async () => {
    const blobs = blobStore();
    await blobs.put('cameos/bad/likeness.json', Buffer.from(JSON.stringify({ texture: [0.5, 0.5], voice: new Array(8).fill(0.125) })));
    await expect(loadLikeness(blobs, 'cameos/bad/likeness.json')).rejects.toThrow(InvalidLikeness);
    await expect(loadLikeness(blobs, 'cameos/bad/likeness.json')).rejects.toThrow(/cameos\/bad\/likeness\.json .*texture holds 2 values, not 3072/);
    await blobs.put(
      'cameos/bad2/likeness.json',
      Buffer.from(JSON.stringify({ texture: new Array(TEXTURE_VALUES).fill(0.5), voice: [1, 2, 3, 4, 5, 6, 7, null] })),
    );
    await expect(loadLikeness(blobs, 'cameos/bad2/likeness.json')).rejects.toThrow(/voice\[7\] is null, not a finite number/);
  });
});

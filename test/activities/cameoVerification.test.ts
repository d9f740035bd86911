// Cameo recording verification on real files made by ffmpeg: what a talking clip measures, each way an upload is
// refused and why, the likeness taken from an accepted clip, and the activity that stores it.
import fs from 'node:fs';
import path from 'node:path';
import { deriveLikeness, InvalidLikeness, TEXTURE_SIZE, TEXTURE_VALUES, VOICE_HARMONICS } from '../../infra/media/likeness';
import { CameoModelUnavailable, checkedModel, FACE_MODEL } from '../../activities/cameo/models';
import { DECOY_PHRASES, decoysFor } from '../../activities/cameo/phrase';
import { createDetectorVerifier, MIN_NONRIGID_MOTION, MIN_ONE_FACE_FRACTION, type CameoVerifier } from '../../activities/cameo/verifier';
import type { VerificationCode } from '../../domain/cameo/events';
import { createCameoVerificationActivities, loadLikeness } from '../../activities/cameo/verify';
import { FsBlobStore } from '../../infra/blobs';
import { createLogger } from '../../infra/logger';
import { createFfmpeg, FfmpegFailed } from '../../infra/media/ffmpeg';
import { sniffMedia } from '../../infra/media/sniff';
import * as clips from '../support/clips';
import { cameoTestPhrase, type CameoPicture, type CameoSound } from '../support/clips';
import { testEnv } from '../support/env';

const ffmpeg = createFfmpeg({ ffmpegPath: testEnv.ffmpegPath });
const verifier = createDetectorVerifier({ ffmpeg });
const ascii = (text: string) => new Uint8Array(Buffer.from(text, 'latin1'));

/** Each clip is made once per file and shared: the checks only read it. */
function once(make: () => Promise<string>): () => Promise<string> {
  let made: Promise<string> | undefined;
  return () => (made ??= make());
}
const talkingClip = once(() => clips.talkingClip(4));
const silentClip = once(() => clips.silentClip());
const { corruptClip, mutedClip, sampleFile, shortClip, stillClip, textFile, truncatedClip } = clips;

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

// The real media (bootstrap --test): the astronaut photograph panned and zoomed, or animated (a slight turn and a jaw
// that drops and closes: no package ships a video of a real person talking), grey noise; LibriVox read speech whose
// transcript is the challenge phrase, another sentence of the same reader, a synthetic tune, pink noise.
const phrase = cameoTestPhrase();
const live = () => clips.cameoClip('live', 'phrase');

describe('the detector verifier', () => {
  it('accepts a face that moves non-rigidly saying the challenge phrase, with every check measured', async () => {
    const report = await verifier.verify({ file: await live(), phrase });
    expect(report).toMatchObject({ accepted: true, reason: null, code: null });
    expect(report.checks).toMatchObject({ container: 'mp4', video_stream: true, audio_stream: true, width: 480, height: 480 });
    expect(report.checks.duration_s).toBeCloseTo(6.5, 1);
    const [face, speech, said] = report.detections;
    expect(face).toMatchObject({ check: 'face', passed: true, code: null, model: expect.stringMatching(/^blazeface-front-128/) });
    expect(face!.scores.one_face_fraction).toBeGreaterThanOrEqual(0.9);
    expect(face!.scores.nonrigid_motion).toBeGreaterThan(MIN_NONRIGID_MOTION * 1.5);
    expect(face!.thresholds).toMatchObject({ min_nonrigid_motion: MIN_NONRIGID_MOTION, min_one_face_fraction: MIN_ONE_FACE_FRACTION });
    expect(speech).toMatchObject({ check: 'speech', passed: true, model: expect.stringMatching(/^silero-vad-v5/) });
    // The reader pauses between phrases: most of the window is speech, not all of it.
    expect(speech!.scores.speech_fraction).toBeGreaterThan(0.7);
    expect(speech!.scores.speech_fraction).toBeLessThan(0.95);
    expect(said).toMatchObject({
      check: 'phrase',
      passed: true,
      model: expect.stringMatching(/^pocketsphinx-en-us/),
      scores: { heard: phrase, matched_words: 1 },
    });
  });

  it.each<[string, CameoPicture, CameoSound, VerificationCode, RegExp]>([
    ['the photograph panned and zoomed over the phrase spoken', 'photo', 'phrase', 'no_live_face', /^the face does not move like a live face/],
    ['moving noise with no face over the phrase spoken', 'noise', 'phrase', 'no_face', /^no face: a face is seen in only 0% of the frames/],
    ['a talking face over music', 'live', 'music', 'no_speech', /^no speech: a voice is heard in only \d+% of the recording/],
    ['a talking face over noise', 'live', 'noise', 'no_speech', /^no speech/],
    ['a talking face reading another sentence', 'live', 'other', 'phrase_mismatch', /^the phrase was not said: heard ".+" where ".+" was asked/],
  ])('refuses %s', async (_what, picture, sound, code, reason) => {
    const report = await verifier.verify({ file: await clips.cameoClip(picture, sound), phrase });
    expect(report).toMatchObject({ accepted: false, code });
    expect(report.reason).toMatch(reason);
    // Every detector ran and says what it measured; the one that refused carries the code.
    expect(report.detections.map((d) => d.check)).toEqual(['face', 'speech', 'phrase']);
    expect(report.detections.find((d) => d.code === code)).toMatchObject({ passed: false });
  });

  it('measures what tells a photograph from a face: rigid motion stays under the threshold, a talking face well above', async () => {
    const photo = await verifier.verify({ file: await clips.cameoClip('photo', 'phrase'), phrase });
    const face = photo.detections[0]!;
    expect(face.scores.one_face_fraction).toBeGreaterThanOrEqual(0.9);
    expect(face.scores.nonrigid_motion).toBeLessThan(MIN_NONRIGID_MOTION * 0.75);
    // The phrase itself was spoken: only the face refused it.
    expect(photo.detections.slice(1).every((d) => d.passed)).toBe(true);
  });

  it('checks a recording without a challenge (a character) only for a human face: a face refuses it, human_likeness_requires_cameo', async () => {
    const person = await verifier.verify({ file: await live(), phrase: null });
    expect(person).toMatchObject({ accepted: false, code: 'human_likeness_requires_cameo' });
    expect(person.reason).toMatch(/^a character must not be a person.*register a cameo with a spoken challenge/);
    expect(person.detections.map((d) => d.check)).toEqual(['human_likeness']);
    expect(person.detections[0]!.scores.face_fraction).toBeGreaterThanOrEqual(0.2);
    // No face, no speech needed: moving noise over a tune is a character.
    const faceless = await verifier.verify({ file: await clips.cameoClip('noise', 'music'), phrase: null });
    expect(faceless).toMatchObject({ accepted: true, code: null });
    expect(faceless.detections).toEqual([
      expect.objectContaining({ check: 'human_likeness', passed: true, scores: expect.objectContaining({ face_fraction: 0 }) }),
    ]);
  });

  it.each<[string, () => Promise<string> | string, RegExp]>([
    ['a still image', stillClip, /^the file is a still image \(png\), not a video recording/],
    ['a text file named clip.mp4', textFile, /^the file is not a video file/],
    ['a corrupt file', corruptClip, /^the recording is damaged.*cannot be (read|decoded)/],
    ['an upload cut off halfway', truncatedClip, /^the recording is damaged or cut off: only [23]\.\d s of its 6\.0 s of video can be decoded/],
    ['a video without an audio track', mutedClip, /^the recording has no audio stream/],
    ['a 1 s clip', shortClip, /^the recording is 1\.0 s long; it must be between 3 and 30 s/],
  ])('refuses %s as an invalid recording, saying why, before any detector runs', async (_what, make, reason) => {
    const report = await verifier.verify({ file: await make(), phrase: null });
    expect(report).toMatchObject({ accepted: false, code: 'invalid_recording', detections: [] });
    expect(report.reason).toMatch(reason);
  });

  it('refuses the synthetic drawing of a face the other tests use: BlazeFace sees a face in it too rarely', async () => {
    const report = await verifier.verify({ file: await talkingClip(), phrase: cameoTestPhrase() });
    expect(report).toMatchObject({ accepted: false, code: 'no_face' });
    expect(report.detections[0]!.scores.one_face_fraction).toBeLessThan(MIN_ONE_FACE_FRACTION);
  });

  it('measures what it could before the check that failed', async () => {
    const image = await verifier.verify({ file: await stillClip(), phrase: null });
    expect(image.checks).toMatchObject({ container: null, video_stream: false, duration_s: null });
    const silent = await verifier.verify({ file: await silentClip(), phrase: cameoTestPhrase() });
    expect(silent.checks).toMatchObject({ container: 'mp4', speech_rms_dbfs: -100 });
    expect(silent.detections.find((d) => d.check === 'speech')).toMatchObject({ passed: false, scores: { speech_fraction: 0 } });
  });
});

describe('the detector verifier when ffmpeg itself fails', () => {
  it('given ffmpeg killed while decoding the sound, when a good clip is verified, then it throws (the activity retries) instead of calling the clip damaged', async () => {
    const killed = createDetectorVerifier({
      ffmpeg: { ...ffmpeg, decodeAudio: async () => Promise.reject(new FfmpegFailed('decoding the audio', '', { signal: 'SIGKILL' })) },
    });
    await expect(killed.verify({ file: await live(), phrase: null })).rejects.toMatchObject({ name: 'FfmpegFailed', exitCode: undefined });
  });

  it('given a file ffmpeg exits on, then the failure carries its exit status', async () => {
    const file = path.join(fs.mkdtempSync(path.join(testEnv.tmpDir, 'garbage-')), 'garbage.mp4');
    fs.writeFileSync(file, Buffer.alloc(4096, 7));
    const failure = await ffmpeg.decodeAudio(file).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(FfmpegFailed);
    expect((failure as FfmpegFailed).exitCode).toBeGreaterThan(0);
  });
});

describe('the cameo models', () => {
  it('refuses a model file whose hash is not the pinned one, naming the file and both hashes', () => {
    const file = path.join(fs.mkdtempSync(path.join(testEnv.tmpDir, 'model-')), 'face.onnx');
    fs.writeFileSync(file, 'not a model');
    expect(() => checkedModel(FACE_MODEL, file)).toThrow(CameoModelUnavailable);
    expect(() => checkedModel(FACE_MODEL, file)).toThrow(new RegExp(`${file} has sha256 [0-9a-f]{64}, not the pinned ${FACE_MODEL.sha256}`));
    expect(() => checkedModel(FACE_MODEL, `${file}.missing`)).toThrow(/does not exist/);
  });

  it('draws the same decoys for the same phrase, never the phrase itself', () => {
    expect(decoysFor('apple river candle dragon')).toEqual(decoysFor('apple river candle dragon'));
    expect(decoysFor('apple river candle dragon')).not.toContain('apple river candle dragon');
    expect(new Set(decoysFor(phrase)).size).toBe(DECOY_PHRASES);
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
    await blobs.put('uploads/cameo_1/recording.mp4', fs.readFileSync(await live()));
    const { verifyCameoRecording } = createCameoVerificationActivities({ blobs, ffmpeg, logger });
    const result = await verifyCameoRecording({ cameoId: 'cameo_1', recordingKey: 'uploads/cameo_1/recording.mp4', phrase });
    expect(result).toMatchObject({ accepted: true, reason: null, code: null, likeness_key: 'cameos/cameo_1/likeness.json', verifier: 'detectors-v1' });
    expect(result.detections.map((d) => [d.check, d.passed])).toEqual([
      ['face', true],
      ['speech', true],
      ['phrase', true],
    ]);
    const likeness = await loadLikeness(blobs, 'cameos/cameo_1/likeness.json');
    expect(likeness.texture).toHaveLength(TEXTURE_VALUES);
    expect(likeness.voice).toHaveLength(VOICE_HARMONICS);
    expect(likeness.voice[0]).toBeGreaterThan(likeness.voice[1]!);
  });

  it('stores nothing for a rejected recording', async () => {
    const blobs = blobStore();
    await blobs.put('uploads/cameo_2/recording.mp4', fs.readFileSync(await clips.cameoClip('live', 'music')));
    const { verifyCameoRecording } = createCameoVerificationActivities({ blobs, ffmpeg, logger });
    const result = await verifyCameoRecording({ cameoId: 'cameo_2', recordingKey: 'uploads/cameo_2/recording.mp4', phrase: cameoTestPhrase() });
    expect(result).toMatchObject({ accepted: false, code: 'no_speech', likeness_key: null, reason: expect.stringMatching(/^no speech/) });
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
          code: 'no_face',
          checks: { container: null, video_stream: false, audio_stream: false, duration_s: null, width: null, height: null },
          detections: [],
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

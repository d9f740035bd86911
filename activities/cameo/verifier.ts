// Judges a cameo recording before its likeness is taken: a real, decodable 3-30 s video in which one real face moves
// (not a photograph panned or zoomed), a voice speaks where the phrase should be, and the words said are the challenge
// phrase. The face is found by BlazeFace, speech by Silero VAD and the words by PocketSphinx (activities/cameo/face.ts,
// speech.ts, phrase.ts). What it cannot catch (a photograph animated by software, a replayed video of the person, a
// face that is not the account owner's) is for further CameoVerifier implementations behind the same seam.
import fs from 'node:fs/promises';
import type { VerificationCheckData, VerificationCode } from '../../domain/cameo/events';
import { normalisePhrase } from '../../domain/cameo/phrases';
import { refusedInput, type Ffmpeg } from '../../infra/media/ffmpeg';
import { SNIFF_HEAD_BYTES, sniffMedia } from '../../infra/media/sniff';
import { dbfs, percentile, rms, roundTo } from '../../infra/media/signals';
import { createFaceDetector, FACE_FRAME_SIZE, MIN_FACE_SCORE, nonRigidResidual, type FaceDetection, type FaceDetector } from './face';
import { FACE_MODEL, faceModelPath, PHRASE_MODEL, phraseModelDir, VAD_MODEL, vadModelPath } from './models';
import { recognisePhrase } from './phrase';
import { createSpeechDetector, VAD_SAMPLE_RATE_HZ, VAD_WINDOW_SAMPLES, type SpeechDetector } from './speech';

/**
 * What the container checks measured (null where it could not be measured). A type, not an interface, so it is
 * assignable to the `Record<string, unknown>` the cameo events carry.
 */
export type RecordingChecks = {
  container: string | null;
  video_stream: boolean;
  audio_stream: boolean;
  duration_s: number | null;
  width: number | null;
  height: number | null;
  /** The level of the phrase window (from PHRASE_START_S to PHRASE_END_MARGIN_S before the end). */
  speech_rms_dbfs?: number | null;
};

/** One detector's verdict, as CameoVerificationChecked records it (without its time). */
export type DetectorCheck = Omit<VerificationCheckData, 'at'>;

export interface VerificationReport {
  accepted: boolean;
  /** The first failed check, in words the user can act on; null when accepted. */
  reason: string | null;
  /** The first failed check's refusal code; null when accepted. */
  code: VerificationCode | null;
  checks: RecordingChecks;
  /** Each detector that ran, passed or not, in the order face, speech, phrase. */
  detections: DetectorCheck[];
}

export interface CameoVerifier {
  readonly name: string;
  verify(input: { file: string; phrase: string | null }): Promise<VerificationReport>;
}

/** A phrase of a few words takes seconds to say; past 30 s a clip is not an answer to a challenge but a video upload. */
export const MIN_DURATION_S = 3;
export const MAX_DURATION_S = 30;

/** Faces are looked for five times a second: enough frames to see a face talk and turn, few enough to stay quick. */
export const FACE_SAMPLE_FPS = 5;
/** A face narrower than this share of the frame's longer side is too far away to judge (a selfie's is 20-50%). */
export const MIN_FACE_WIDTH = 0.12;
/** Exactly one such face in at least this share of the sampled frames ("most"): a person may look away a moment. */
export const MIN_ONE_FACE_FRACTION = 0.6;
/**
 * The 75th percentile, over every pair of frames with one face, of the keypoints' residual after the best similarity
 * transform between the two, over the face's width. A photograph panned and zoomed stays under 0.012 (detector jitter);
 * a face that talks and turns moves its keypoints against each other by 0.03 and more.
 */
export const MIN_NONRIGID_MOTION = 0.02;

/** The phrase is expected from half a second in (the person reacts to the start) until just before the end (they stop the recording). */
export const PHRASE_START_S = 0.5;
export const PHRASE_END_MARGIN_S = 0.25;
/** Silero's usual decision threshold for a 32 ms window. */
export const SPEECH_PROBABILITY = 0.5;
/** Speech in at least half of the phrase window's 32 ms windows: reading a phrase aloud is 70-90% speech, music and noise under 5%. */
export const MIN_SPEECH_FRACTION = 0.5;
/**
 * A file whose decoders stop well before what its header promises is damaged or cut off, whatever ffmpeg's exit
 * status says; 80% leaves room for phones whose audio and video streams end a few hundred milliseconds apart.
 */
const MIN_DECODED_FRACTION = 0.8;

interface Detectors {
  face: FaceDetector;
  speech: SpeechDetector;
  phraseModelDir: string;
}

/**
 * The verifier with real detectors. Their models are loaded (and their hashes checked) on the first verification, not
 * at start-up, so a worker without them still runs everything else; a verification then fails, naming what is missing.
 */
export function createDetectorVerifier(deps: { ffmpeg: Ffmpeg; faceModelPath?: string }): CameoVerifier {
  let detectors: Promise<Detectors> | undefined;
  const load = (): Promise<Detectors> => {
    detectors ??= (async () => {
      const [face, speech] = await Promise.all([createFaceDetector(faceModelPath(deps.faceModelPath)), createSpeechDetector(vadModelPath())]);
      return { face, speech, phraseModelDir: phraseModelDir() };
    })();
    // A failed load is tried again next time (the bootstrap may have fetched the model meanwhile).
    detectors.catch(() => (detectors = undefined));
    return detectors;
  };
  return {
    name: 'detectors-v1',
    verify: async ({ file, phrase }) => verifyRecording(deps.ffmpeg, await load(), file, phrase),
  };
}

async function verifyRecording(ffmpeg: Ffmpeg, detectors: Detectors, file: string, phrase: string | null): Promise<VerificationReport> {
  const checks: RecordingChecks = {
    container: null,
    video_stream: false,
    audio_stream: false,
    duration_s: null,
    width: null,
    height: null,
    speech_rms_dbfs: null,
  };
  const detections: DetectorCheck[] = [];
  const judged = (reason: string | null, code: VerificationCode | null = null): VerificationReport => ({
    accepted: reason === null,
    reason,
    code,
    checks,
    detections,
  });
  const invalid = (reason: string) => judged(reason, 'invalid_recording');

  const sniffed = sniffMedia(await readHead(file));
  if (sniffed.kind === 'image') return invalid(`the file is a still image (${sniffed.format}), not a video recording: record yourself saying the phrase`);
  if (sniffed.kind === 'unknown') return invalid('the file is not a video file: upload the recording as MP4, MOV or WebM');
  checks.container = sniffed.container;

  const info = await ffmpeg.inspect(file);
  if (!info.readable) return invalid('the recording is damaged or incomplete and cannot be read: record it again, or upload the original file');
  checks.video_stream = info.video !== undefined;
  checks.audio_stream = info.audio !== undefined;
  if (info.video && info.video.width > 0) {
    checks.width = info.video.width;
    checks.height = info.video.height;
  }
  if (info.durationS !== undefined) checks.duration_s = roundTo(info.durationS, 3);
  if (!info.video) return invalid('the file has no video stream: record yourself on camera');
  if (!info.audio) return invalid('the recording has no audio stream: record with the microphone on');
  // An over-long upload is refused on its header alone, without decoding what would be thrown away.
  if (info.durationS !== undefined && info.durationS > MAX_DURATION_S) return invalid(durationReason(info.durationS));

  const [frames, samples] = await Promise.all([decodeFaceFrames(ffmpeg, file), decodeSpeech(ffmpeg, file)]);
  const pictureS = frames.count >= 2 ? frames.count / FACE_SAMPLE_FPS : undefined;
  const soundS = samples && samples.length > 0 ? samples.length / VAD_SAMPLE_RATE_HZ : undefined;
  if (checks.duration_s === null && (soundS ?? pictureS) !== undefined) checks.duration_s = roundTo((soundS ?? pictureS)!, 3);
  const expectedS = Math.min(checks.duration_s ?? 0, MAX_DURATION_S);
  const damaged = damageReason('video', pictureS, expectedS) ?? damageReason('audio', soundS, expectedS);
  if (damaged) return invalid(damaged);
  if (checks.duration_s === null || checks.duration_s < MIN_DURATION_S || checks.duration_s > MAX_DURATION_S) return invalid(durationReason(checks.duration_s));
  const audio = samples!;
  const fromSample = Math.round(PHRASE_START_S * VAD_SAMPLE_RATE_HZ);
  const toSample = Math.max(fromSample, audio.length - Math.round(PHRASE_END_MARGIN_S * VAD_SAMPLE_RATE_HZ));
  checks.speech_rms_dbfs = roundTo(dbfs(rms(audio, fromSample, toSample)), 2);

  // A character (no challenge phrase) must not be a person: the one check is that no human face is in a meaningful
  // share of the frames. Lending one's own likeness is the cameo flow, with its spoken challenge.
  if (phrase === null) {
    const human = await checkNoHumanFace(detectors.face, frames.frames, frames.count);
    detections.push(human.check);
    return human.check.passed ? judged(null) : judged(human.reason, 'human_likeness_requires_cameo');
  }

  // Every detector runs, so the record shows each verdict, not only the first that failed.
  const face = await checkFace(detectors.face, frames.frames, frames.count);
  detections.push(face.check);
  const speech = await checkSpeech(detectors.speech, audio, fromSample, toSample);
  detections.push(speech.check);
  const said = phrase === null ? null : await checkPhrase(audio, phrase, detectors.phraseModelDir);
  if (said) detections.push(said.check);
  for (const verdict of [face, speech, said]) if (verdict && !verdict.check.passed) return judged(verdict.reason, verdict.check.code);
  return judged(null);
}

/** The median to three decimals, null for none: how the checks report a measure over frames. */
const median3 = (values: number[]): number | null => (values.length === 0 ? null : roundTo(percentile(values, 0.5)!, 3));

/** A human face (any size the detector finds) in this share of a character's sampled frames makes it a person's likeness. */
export const MAX_CHARACTER_FACE_FRACTION = 0.2;

export const HUMAN_LIKENESS_REASON =
  'a character must not be a person, and a human face is in this clip: to lend your own likeness, register a cameo with a spoken challenge (POST /v1/cameos/challenges, then POST /v1/cameos)';

/** A character's check: how many sampled frames show a human face (BlazeFace, at its own score threshold), against the share allowed. */
async function checkNoHumanFace(detector: FaceDetector, frames: Uint8Array, count: number): Promise<Verdict> {
  const perFrame = await detector.detect(frames, count);
  const withFace = perFrame.filter((faces) => faces.length > 0);
  const fraction = count === 0 ? 0 : withFace.length / count;
  const passed = fraction < MAX_CHARACTER_FACE_FRACTION;
  const widths = withFace.map((faces) => Math.max(...faces.map((f) => f.w)));
  const scores = withFace.map((faces) => Math.max(...faces.map((f) => f.score)));
  const check: DetectorCheck = {
    check: 'human_likeness',
    passed,
    code: passed ? null : 'human_likeness_requires_cameo',
    model: FACE_MODEL.id,
    scores: {
      frames: count,
      face_fraction: roundTo(fraction, 3),
      face_width: median3(widths),
      face_score: median3(scores),
    },
    thresholds: { face_score: MIN_FACE_SCORE, max_face_fraction: MAX_CHARACTER_FACE_FRACTION },
  };
  if (passed) return { check, reason: null };
  return {
    check,
    reason: `${HUMAN_LIKENESS_REASON} (a face in ${Math.round(fraction * 100)}% of the sampled frames, at most ${MAX_CHARACTER_FACE_FRACTION * 100}% allowed)`,
  };
}

interface Verdict {
  check: DetectorCheck;
  reason: string | null;
}

async function checkFace(detector: FaceDetector, frames: Uint8Array, count: number): Promise<Verdict> {
  const perFrame = await detector.detect(frames, count);
  const large = perFrame.map((faces) => faces.filter((f) => f.w >= MIN_FACE_WIDTH));
  const single = large.filter((faces) => faces.length === 1).map((faces) => faces[0]!);
  const anyFace = perFrame.filter((faces) => faces.length > 0).length;
  const several = large.filter((faces) => faces.length > 1).length;
  const oneFaceFraction = count === 0 ? 0 : single.length / count;
  const residuals: number[] = [];
  for (let i = 0; i < single.length; i++) {
    for (let j = i + 1; j < single.length; j++) residuals.push(pairResidual(single[i]!, single[j]!));
  }
  const motion = residuals.length === 0 ? null : percentile(residuals, 0.75)!;
  const hasFace = oneFaceFraction >= MIN_ONE_FACE_FRACTION;
  const live = hasFace && motion !== null && motion >= MIN_NONRIGID_MOTION;
  const check: DetectorCheck = {
    check: 'face',
    passed: live,
    code: live ? null : hasFace ? 'no_live_face' : 'no_face',
    model: FACE_MODEL.id,
    scores: {
      frames: count,
      one_face_fraction: roundTo(oneFaceFraction, 3),
      any_face_fraction: count === 0 ? 0 : roundTo(anyFace / count, 3),
      several_faces_fraction: count === 0 ? 0 : roundTo(several / count, 3),
      face_width: median3(single.map((f) => f.w)),
      face_score: median3(single.map((f) => f.score)),
      nonrigid_motion: motion === null ? null : roundTo(motion, 4),
      nonrigid_motion_max: residuals.length === 0 ? null : roundTo(Math.max(...residuals), 4),
    },
    thresholds: {
      face_score: MIN_FACE_SCORE,
      min_face_width: MIN_FACE_WIDTH,
      min_one_face_fraction: MIN_ONE_FACE_FRACTION,
      min_nonrigid_motion: MIN_NONRIGID_MOTION,
    },
  };
  if (live) return { check, reason: null };
  if (!hasFace) {
    const pct = (x: number) => `${Math.round(x * 100)}%`;
    const why =
      several > single.length
        ? `more than one face is in ${pct(several / Math.max(1, count))} of the frames`
        : anyFace > single.length && single.length < MIN_ONE_FACE_FRACTION * count
          ? `a face is seen in ${pct(anyFace / Math.max(1, count))} of the frames but too small or not alone in most`
          : `a face is seen in only ${pct(anyFace / Math.max(1, count))} of the frames`;
    return {
      check,
      reason: `no face: ${why}, where one face, at least ${pct(MIN_FACE_WIDTH)} of the frame wide, is needed in ${pct(MIN_ONE_FACE_FRACTION)}: record yourself alone, facing the camera`,
    };
  }
  return {
    check,
    reason: `the face does not move like a live face: it only moves as a whole, as a photograph held up or panned does (non-rigid motion ${roundTo(motion ?? 0, 4)}, at least ${MIN_NONRIGID_MOTION} is needed): record yourself speaking`,
  };
}

function pairResidual(a: FaceDetection, b: FaceDetection): number {
  return nonRigidResidual(a.keypoints, b.keypoints, (a.w + b.w) / 2);
}

async function checkSpeech(detector: SpeechDetector, audio: Float32Array, fromSample: number, toSample: number): Promise<Verdict> {
  const probabilities = await detector.probabilities(audio);
  const first = Math.floor(fromSample / VAD_WINDOW_SAMPLES);
  const last = Math.floor(toSample / VAD_WINDOW_SAMPLES);
  const window = probabilities.slice(first, last);
  const speech = window.filter((p) => p >= SPEECH_PROBABILITY).length;
  const fraction = window.length === 0 ? 0 : speech / window.length;
  const passed = fraction >= MIN_SPEECH_FRACTION;
  const check: DetectorCheck = {
    check: 'speech',
    passed,
    code: passed ? null : 'no_speech',
    model: VAD_MODEL.id,
    scores: {
      speech_fraction: roundTo(fraction, 3),
      mean_probability: window.length === 0 ? 0 : roundTo(window.reduce((a, p) => a + p, 0) / window.length, 3),
      speech_s: roundTo((speech * VAD_WINDOW_SAMPLES) / VAD_SAMPLE_RATE_HZ, 2),
    },
    thresholds: { speech_probability: SPEECH_PROBABILITY, min_speech_fraction: MIN_SPEECH_FRACTION },
  };
  if (passed) return { check, reason: null };
  return {
    check,
    reason: `no speech: a voice is heard in only ${Math.round(fraction * 100)}% of the recording after its first half second (at least ${Math.round(MIN_SPEECH_FRACTION * 100)}% is needed; music and noise are not speech): say the phrase clearly, close to the microphone`,
  };
}

async function checkPhrase(audio: Float32Array, phrase: string, modelDir: string): Promise<Verdict> {
  const heard = await recognisePhrase(audio, phrase, modelDir);
  // Exactly the phrase: all its words in order and nothing else (a decoy or the common-word loop won otherwise).
  const passed = heard.hypothesis === normalisePhrase(phrase);
  const check: DetectorCheck = {
    check: 'phrase',
    passed,
    code: passed ? null : 'phrase_mismatch',
    model: PHRASE_MODEL.id,
    scores: {
      heard: heard.hypothesis,
      matched_words: roundTo(heard.matchedWords, 3),
      mean_word_probability: heard.meanWordProbability === null ? null : roundTo(heard.meanWordProbability, 3),
      decoys: heard.decoys,
    },
    thresholds: { match: 'the phrase, exactly, over its decoys and any other words' },
  };
  if (passed) return { check, reason: null };
  return {
    check,
    reason: `the phrase was not said: heard ${heard.hypothesis === null ? 'nothing recognisable' : JSON.stringify(heard.hypothesis)} where ${JSON.stringify(phrase)} was asked: record yourself saying the phrase`,
  };
}

async function decodeFaceFrames(ffmpeg: Ffmpeg, file: string): Promise<{ frames: Uint8Array; count: number }> {
  try {
    return await ffmpeg.decodeFrames(file, {
      width: FACE_FRAME_SIZE,
      height: FACE_FRAME_SIZE,
      fps: FACE_SAMPLE_FPS,
      durationS: MAX_DURATION_S + 1,
      letterbox: true,
    });
  } catch (err) {
    // ffmpeg gave up on the stream: a damaged file, judged as such by the caller from the frame count. Any other
    // failure is thrown, and the activity tries again.
    if (!refusedInput(err)) throw err;
    return { frames: new Uint8Array(0), count: 0 };
  }
}

async function decodeSpeech(ffmpeg: Ffmpeg, file: string): Promise<Float32Array | null> {
  try {
    return await ffmpeg.decodeAudio(file, VAD_SAMPLE_RATE_HZ, 1, { maxDurationS: MAX_DURATION_S + 1 });
  } catch (err) {
    if (!refusedInput(err)) throw err;
    return null;
  }
}

function damageReason(stream: 'video' | 'audio', decodedS: number | undefined, expectedS: number): string | null {
  const again = 'Record it again, or upload the original file';
  if (decodedS === undefined || decodedS === 0) return `the recording is damaged: its ${stream} cannot be decoded. ${again}`;
  if (decodedS < MIN_DECODED_FRACTION * expectedS)
    return `the recording is damaged or cut off: only ${decodedS.toFixed(1)} s of its ${expectedS.toFixed(1)} s of ${stream} can be decoded. ${again}`;
  return null;
}

function durationReason(durationS: number | null): string {
  const measured = durationS === null ? 'of unknown length' : `${durationS.toFixed(1)} s long`;
  return `the recording is ${measured}; it must be between ${MIN_DURATION_S} and ${MAX_DURATION_S} s: record the phrase again`;
}

async function readHead(file: string): Promise<Uint8Array> {
  const handle = await fs.open(file, 'r');
  try {
    const head = Buffer.alloc(SNIFF_HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, SNIFF_HEAD_BYTES, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

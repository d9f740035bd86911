// Judges a cameo recording before its likeness is taken: a real, decodable video of something that moves, with a voice
// speaking where the phrase should be. That is all a clip proves on its own. Whether the face is the account owner's
// (a face match) and whether the words were the phrase asked (speech recognition) are further CameoVerifier
// implementations to plug in beside this one; this one is handed `phrase` but cannot check the words said.
import fs from 'node:fs/promises';
import { refusedInput, type Ffmpeg, type MediaStreams } from '../../infra/media/ffmpeg';
import { SNIFF_HEAD_BYTES, sniffMedia } from '../../infra/media/sniff';
import { dbfs, meanFrameChange, percentile, rms, roundTo, windowLevelsDbfs } from '../../infra/media/signals';

/**
 * What each check measured (null where it could not be measured). A type, not an interface, so it is assignable to the
 * `Record<string, unknown>` the cameo events carry.
 */
export type RecordingChecks = {
  container: string | null;
  video_stream: boolean;
  audio_stream: boolean;
  duration_s: number | null;
  width: number | null;
  height: number | null;
  frame_change: number | null;
  voiced_fraction: number | null;
  speech_rms_dbfs: number | null;
  /** dB between the 10th and 90th percentile window levels of the phrase window (speech rises and falls; a tone does not). */
  level_spread_db?: number | null;
};

export interface VerificationReport {
  accepted: boolean;
  /** The first failed check, in words the user can act on; null when accepted. */
  reason: string | null;
  checks: RecordingChecks;
}

export interface CameoVerifier {
  readonly name: string;
  verify(input: { file: string; phrase: string | null }): Promise<VerificationReport>;
}

/** A phrase of a few words takes seconds to say; past 30 s a clip is not an answer to a challenge but a video upload. */
export const MIN_DURATION_S = 3;
export const MAX_DURATION_S = 30;

/** Frame change is judged on a thumbnail a few times a second: motion of a face shows at 64 pixels, sensor noise averages out. */
export const FRAME_SAMPLE_WIDTH = 64;
export const FRAME_SAMPLE_FPS = 5;
/**
 * Mean absolute difference between sampled frames, in 0..255 levels. A repeated frame re-encoded stays below 0.1 (the
 * encoder skips unchanged blocks); a head that talks, however still, moves its mouth and sways, which is a level or more.
 */
export const MIN_FRAME_CHANGE = 0.5;

/** Speech is analysed at 16 kHz mono, the rate speech codecs and recognisers use: its energy lies below 8 kHz. */
export const AUDIO_SAMPLE_RATE_HZ = 16000;
/** 50 ms windows: shorter than a syllable (150-250 ms), so the pauses between syllables show as quiet windows. */
export const LEVEL_WINDOW_S = 0.05;
/** The phrase is expected from half a second in (the person reacts to the start) until just before the end (they stop the recording). */
export const PHRASE_START_S = 0.5;
export const PHRASE_END_MARGIN_S = 0.25;
/** Conversational speech near a phone sits around -20 to -25 dBFS; a room's background noise well below -40. */
export const SPEECH_LEVEL_DBFS = -35;
/** Someone saying a phrase speaks for about half the time, the rest being pauses; under 30% is a cough or a word. */
export const MIN_VOICED_FRACTION = 0.3;
/** Syllables and pauses make speech levels swing by 20 dB and more; a hum, a tone or steady noise stays within a few dB. */
export const MIN_LEVEL_SPREAD_DB = 6;
/**
 * A file whose decoders stop well before what its header promises is damaged or cut off, whatever ffmpeg's exit
 * status says; 80% leaves room for phones whose audio and video streams end a few hundred milliseconds apart.
 */
const MIN_DECODED_FRACTION = 0.8;

export function createClipVerifier(deps: { ffmpeg: Ffmpeg }): CameoVerifier {
  return {
    name: 'clip-checks-v1',
    verify: ({ file }) => verifyClip(deps.ffmpeg, file),
  };
}

async function verifyClip(ffmpeg: Ffmpeg, file: string): Promise<VerificationReport> {
  const checks: RecordingChecks = {
    container: null,
    video_stream: false,
    audio_stream: false,
    duration_s: null,
    width: null,
    height: null,
    frame_change: null,
    voiced_fraction: null,
    speech_rms_dbfs: null,
    level_spread_db: null,
  };
  const judged = (reason: string | null): VerificationReport => ({ accepted: reason === null, reason, checks });

  const sniffed = sniffMedia(await readHead(file));
  if (sniffed.kind === 'image') return judged(`the file is a still image (${sniffed.format}), not a video recording: record yourself saying the phrase`);
  if (sniffed.kind === 'unknown') return judged('the file is not a video file: upload the recording as MP4, MOV or WebM');
  checks.container = sniffed.container;

  const info = await ffmpeg.inspect(file);
  if (!info.readable) return judged('the recording is damaged or incomplete and cannot be read: record it again, or upload the original file');
  checks.video_stream = info.video !== undefined;
  checks.audio_stream = info.audio !== undefined;
  if (info.video && info.video.width > 0) {
    checks.width = info.video.width;
    checks.height = info.video.height;
  }
  if (info.durationS !== undefined) checks.duration_s = roundTo(info.durationS, 3);
  if (!info.video) return judged('the file has no video stream: record yourself on camera');
  if (!info.audio) return judged('the recording has no audio stream: record with the microphone on');
  // An over-long upload is refused on its header alone, without decoding what would be thrown away.
  if (info.durationS !== undefined && info.durationS > MAX_DURATION_S) return judged(durationReason(info.durationS));

  const [picture, sound] = await Promise.all([measurePicture(ffmpeg, file, info), measureSound(ffmpeg, file)]);
  const decodedS = sound.decodedS ?? picture.decodedS;
  if (checks.duration_s === null && decodedS !== undefined) checks.duration_s = roundTo(decodedS, 3);
  checks.frame_change = picture.frameChange === null ? null : roundTo(picture.frameChange, 3);
  checks.voiced_fraction = sound.voicedFraction === null ? null : roundTo(sound.voicedFraction, 3);
  checks.speech_rms_dbfs = sound.phraseDbfs === null ? null : roundTo(sound.phraseDbfs, 2);
  checks.level_spread_db = sound.spreadDb === null ? null : roundTo(sound.spreadDb, 2);

  const expectedS = Math.min(checks.duration_s ?? 0, MAX_DURATION_S);
  const damaged = damageReason('video', picture.count < 2 ? undefined : picture.decodedS, expectedS) ?? damageReason('audio', sound.decodedS, expectedS);
  if (damaged) return judged(damaged);
  if (checks.duration_s === null || checks.duration_s < MIN_DURATION_S || checks.duration_s > MAX_DURATION_S) return judged(durationReason(checks.duration_s));
  if (picture.frameChange === null || picture.frameChange < MIN_FRAME_CHANGE)
    return judged('the picture does not change: a still image, not a person on camera');
  if (sound.voicedFraction === null || sound.voicedFraction === 0) return judged('no speech: the audio is silent while the phrase should be spoken');
  if (sound.voicedFraction < MIN_VOICED_FRACTION) {
    return judged(
      `too little speech: only ${Math.round(sound.voicedFraction * 100)}% of the recording after its first half second is at speaking level (at least ${Math.round(MIN_VOICED_FRACTION * 100)}% is needed): say the phrase clearly, close to the microphone`,
    );
  }
  if (sound.spreadDb === null || sound.spreadDb < MIN_LEVEL_SPREAD_DB) {
    return judged(
      `the sound is a steady tone or noise, not speech: its level varies by ${roundTo(sound.spreadDb ?? 0, 1)} dB where speech varies by at least ${MIN_LEVEL_SPREAD_DB} dB`,
    );
  }
  return judged(null);
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

interface PictureMeasurement {
  count: number;
  decodedS: number | undefined;
  frameChange: number | null;
}

async function measurePicture(ffmpeg: Ffmpeg, file: string, info: MediaStreams): Promise<PictureMeasurement> {
  const video = info.video!;
  // Even sizes keep the scaler exact for 4:2:0 sources; an unknown size (a damaged header) gets 4:3.
  const height = video.width > 0 && video.height > 0 ? Math.max(2, Math.round((FRAME_SAMPLE_WIDTH * video.height) / video.width / 2) * 2) : 48;
  try {
    const { frames, count } = await ffmpeg.decodeFrames(file, { width: FRAME_SAMPLE_WIDTH, height, fps: FRAME_SAMPLE_FPS, durationS: MAX_DURATION_S + 1 });
    return { count, decodedS: count > 0 ? count / FRAME_SAMPLE_FPS : undefined, frameChange: meanFrameChange(frames, count, FRAME_SAMPLE_WIDTH * height * 3) };
  } catch (err) {
    // ffmpeg gave up on the stream: a damaged file, judged as such by the caller from the frame count. Any other
    // failure is thrown, and the activity tries again.
    if (!refusedInput(err)) throw err;
    return { count: 0, decodedS: undefined, frameChange: null };
  }
}

interface SoundMeasurement {
  decodedS: number | undefined;
  voicedFraction: number | null;
  phraseDbfs: number | null;
  spreadDb: number | null;
}

async function measureSound(ffmpeg: Ffmpeg, file: string): Promise<SoundMeasurement> {
  let samples: Float32Array;
  try {
    samples = await ffmpeg.decodeAudio(file, AUDIO_SAMPLE_RATE_HZ, 1, { maxDurationS: MAX_DURATION_S + 1 });
  } catch (err) {
    if (!refusedInput(err)) throw err;
    return { decodedS: undefined, voicedFraction: null, phraseDbfs: null, spreadDb: null };
  }
  const decodedS = samples.length / AUDIO_SAMPLE_RATE_HZ;
  const toS = decodedS - PHRASE_END_MARGIN_S;
  const levels = windowLevelsDbfs(samples, AUDIO_SAMPLE_RATE_HZ, LEVEL_WINDOW_S, PHRASE_START_S, toS);
  if (levels.length === 0) return { decodedS: decodedS > 0 ? decodedS : undefined, voicedFraction: null, phraseDbfs: null, spreadDb: null };
  const voiced = levels.filter((l) => l >= SPEECH_LEVEL_DBFS).length;
  return {
    decodedS,
    voicedFraction: voiced / levels.length,
    phraseDbfs: dbfs(rms(samples, Math.round(PHRASE_START_S * AUDIO_SAMPLE_RATE_HZ), Math.round(toS * AUDIO_SAMPLE_RATE_HZ))),
    spreadDb: percentile(levels, 0.9)! - percentile(levels, 0.1)!,
  };
}

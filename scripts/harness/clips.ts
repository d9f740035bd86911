// Cameo recordings for tests and the fixture recorder, made here rather than stored: a talking clip (a face-like shape
// that moves and a synthesized voice speaking in syllables) and the ways an upload goes wrong. Each helper writes into
// its own folder under the temporary folder set by useClipFolder (the test run's, or the recorder's) and returns the
// file's path.
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../infra/config';
import { createFfmpeg } from '../../infra/media/ffmpeg';

type Rgb = readonly [number, number, number];

// Module-level copies of Math's functions for the per-pixel and per-sample loops: under jest every global lookup goes
// through the sandbox's interceptor, which made drawing a clip ten times slower than in plain node.
const { abs, hypot, min, round, sin, PI } = Math;

export interface TalkingClipOptions {
  /** The colour of the centre square (backdrop and face); the margins outside it stay green. */
  centre?: Rgb;
  /** Amplitudes of the voice's harmonics 1..n (default 1/h: a plain, dark voice). */
  harmonics?: readonly number[];
  /** Whether the picture moves (false: the first frame repeated, a photo with a voice over it). */
  moving?: boolean;
  /** What the audio track holds: the voice speaking (default), digital silence, a steady 440 Hz tone; or no audio track. */
  sound?: 'speech' | 'silence' | 'tone' | 'none';
}

/** 4:3, so the centre square the likeness crops is narrower than the frame. */
const WIDTH = 192;
const HEIGHT = 144;
const FPS = 25;
const SAMPLE_RATE_HZ = 48000;
const MARGIN: Rgb = [20, 150, 60];
const SKIN: Rgb = [224, 172, 140];

/** A person saying a phrase: moving face-like frames and speech-like audio, H.264 + AAC in MP4. */
export async function talkingClip(seconds = 4, options: TalkingClipOptions = {}): Promise<string> {
  const syllables = syllablesOf(seconds);
  const frameCount = round(seconds * FPS);
  const frames = Buffer.alloc(frameCount * WIDTH * HEIGHT * 3);
  for (let f = 0; f < frameCount; f++) {
    const t = options.moving === false ? 0 : f / FPS;
    frames.set(drawFace(t, options.centre ?? SKIN, envelope(syllables, t)), f * WIDTH * HEIGHT * 3);
  }
  const samples = round(seconds * SAMPLE_RATE_HZ);
  const sound = options.sound ?? 'speech';
  const audio =
    sound === 'silence'
      ? new Float32Array(samples)
      : sound === 'tone'
        ? Float32Array.from({ length: samples }, (_, i) => 0.3 * sin((2 * PI * 440 * i) / SAMPLE_RATE_HZ))
        : speech(seconds, syllables, options.harmonics ?? [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 6, 1 / 7, 1 / 8, 1 / 9, 1 / 10]);
  return encode('talking.mp4', frames, sound === 'none' ? null : audio);
}

/** A photo: the first frame of a talking clip as a PNG. */
export async function stillClip(): Promise<string> {
  const frame = Buffer.from(drawFace(0, SKIN, 0.3));
  const dir = clipDir();
  const file = path.join(dir, 'still.png');
  fs.writeFileSync(path.join(dir, 'frame.rgb'), frame);
  await runFfmpeg(['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${WIDTH}x${HEIGHT}`, '-i', path.join(dir, 'frame.rgb'), '-frames:v', '1', file]);
  return file;
}

/** One frame repeated over a speaking voice: a photo held up to the camera. */
export function stillVideo(seconds = 4): Promise<string> {
  return talkingClip(seconds, { moving: false });
}

/** A moving picture with a silent audio track. */
export function silentClip(seconds = 4): Promise<string> {
  return talkingClip(seconds, { sound: 'silence' });
}

/** A talking picture recorded with the microphone off: no audio stream at all. */
export function mutedClip(seconds = 4): Promise<string> {
  return talkingClip(seconds, { sound: 'none' });
}

/** A moving picture over a steady tone: loud enough to pass for speech by level alone. */
export function toneClip(seconds = 4): Promise<string> {
  return talkingClip(seconds, { sound: 'tone' });
}

/** A faceless clip: ffmpeg's moving test pattern over a tone, small (a character's recording: an object, not a person). */
export async function patternClip(seconds = 4): Promise<string> {
  const file = path.join(clipDir(), 'pattern.mp4');
  await runFfmpeg([
    ...['-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=${FPS}`, '-f', 'lavfi', '-i', `sine=frequency=330:sample_rate=${SAMPLE_RATE_HZ}`],
    ...['-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-movflags', '+faststart', file],
  ]);
  return file;
}

/** A talking clip too short to hold a phrase. */
export function shortClip(): Promise<string> {
  return talkingClip(1);
}

/** A real MP4 with everything after its first 2 KB replaced by random bytes: an upload cut off and garbled. */
export async function corruptClip(): Promise<string> {
  const whole = fs.readFileSync(await talkingClip());
  const garbled = Buffer.concat([whole.subarray(0, 2048), randomBytesSeeded(whole.length - 2048, 7)]);
  const file = path.join(clipDir(), 'corrupt.mp4');
  fs.writeFileSync(file, garbled);
  return file;
}

/** The first half of a real MP4 (its index is at the front): an upload cut off midway. */
export async function truncatedClip(): Promise<string> {
  const whole = fs.readFileSync(await talkingClip(6));
  const file = path.join(clipDir(), 'truncated.mp4');
  fs.writeFileSync(file, whole.subarray(0, Math.round(whole.length / 2)));
  return file;
}

/** Text in a file named like a video: sniffing must go by content. */
export function textFile(): string {
  const file = path.join(clipDir(), 'clip.mp4');
  fs.writeFileSync(file, 'hello\n');
  return file;
}

/**
 * A tiny real file of a given format, for sniffing: 0.2 s of test pattern (and a tone, where the container holds
 * audio), written by ffmpeg's muxer for `ext`, or one frame for image formats.
 */
export async function sampleFile(ext: 'mp4' | 'mov' | 'webm' | 'mkv' | 'ts' | 'avi' | 'png' | 'jpg' | 'gif' | 'webp'): Promise<string> {
  const file = path.join(clipDir(), `sample.${ext}`);
  const image = ['png', 'jpg', 'gif', 'webp'].includes(ext);
  const codecs: Record<string, string[]> = {
    webm: ['-pix_fmt', 'yuv420p', '-c:v', 'libvpx', '-c:a', 'libopus'],
    // Full-range ("JPEG") 4:2:0, which MJPEG encoders from ffmpeg 7 on require.
    avi: ['-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-c:a', 'pcm_s16le'],
  };
  await runFfmpeg([
    ...['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10'],
    ...(image ? ['-frames:v', '1'] : ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '0.2', ...(codecs[ext] ?? ['-pix_fmt', 'yuv420p'])]),
    file,
  ]);
  return file;
}

interface Syllable {
  startS: number;
  endS: number;
  f0Hz: number;
}

/**
 * Syllables of 150-250 ms with 50-120 ms pauses and a longer breath every few, from 0.3 s to 0.3 s before the end,
 * the way a person says a short phrase. Seeded, so every run makes the same clip.
 */
function syllablesOf(seconds: number): Syllable[] {
  const random = seeded(seconds * 1000 + 1);
  const out: Syllable[] = [];
  let t = 0.3;
  while (t + 0.15 <= seconds - 0.3) {
    const length = min(0.15 + 0.1 * random(), seconds - 0.3 - t);
    out.push({ startS: t, endS: t + length, f0Hz: 135 + 40 * random() });
    t += length + (out.length % 4 === 0 ? 0.25 : 0.05 + 0.07 * random());
  }
  return out;
}

/** 0..1: how loud the voice is at `t` (a 30 ms attack and 40 ms release around each syllable). */
function envelope(syllables: readonly Syllable[], t: number): number {
  for (const s of syllables) if (t >= s.startS && t < s.endS) return min(1, (t - s.startS) / 0.03, (s.endS - t) / 0.04);
  return 0;
}

function speech(seconds: number, syllables: readonly Syllable[], harmonics: readonly number[]): Float32Array {
  const n = round(seconds * SAMPLE_RATE_HZ);
  const out = new Float32Array(n);
  const norm = harmonics.reduce((a, b) => a + abs(b), 0);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / SAMPLE_RATE_HZ;
    const e = envelope(syllables, t);
    const syllable = syllables.find((s) => t >= s.startS && t < s.endS);
    // Intonation: a slow glide around each syllable's pitch, so the fundamental is never a fixed tone.
    const f0 = (syllable?.f0Hz ?? 150) * (1 + 0.04 * sin(2 * PI * 3 * t));
    phase += (2 * PI * f0) / SAMPLE_RATE_HZ;
    if (e === 0) continue;
    let v = 0;
    for (let h = 0; h < harmonics.length; h++) v += harmonics[h]! * sin((h + 1) * phase);
    out[i] = (0.6 * e * v) / norm;
  }
  return out;
}

/** A face-like ellipse swaying in the centre square, with eyes and a mouth that opens with the voice. */
function drawFace(t: number, centre: Rgb, mouth: number): number[] {
  const frame = new Array<number>(WIDTH * HEIGHT * 3);
  const square = min(WIDTH, HEIGHT);
  const left = (WIDTH - square) / 2;
  const cx = WIDTH / 2 + 6 * sin(2 * PI * 0.7 * t);
  const cy = HEIGHT / 2 + 3 * sin(2 * PI * 0.45 * t);
  const face: Rgb = [centre[0] * 0.85, centre[1] * 0.85, centre[2] * 0.85];
  const dark: Rgb = [centre[0] * 0.3, centre[1] * 0.3, centre[2] * 0.3];
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      let c: Rgb = x < left || x >= left + square ? MARGIN : centre;
      const dx = (x - cx) / 44;
      const dy = (y - cy) / 56;
      if (dx * dx + dy * dy <= 1) {
        c = face;
        const eye = min(hypot(x - (cx - 16), y - (cy - 14)), hypot(x - (cx + 16), y - (cy - 14)));
        const inMouth = abs(x - cx) <= 14 && abs(y - (cy + 24)) <= 1 + 8 * mouth;
        if (eye <= 5 || inMouth) c = dark;
      }
      const i = (y * WIDTH + x) * 3;
      frame[i] = round(c[0]);
      frame[i + 1] = round(c[1]);
      frame[i + 2] = round(c[2]);
    }
  }
  return frame;
}

async function encode(name: string, frames: Buffer, audio: Float32Array | null): Promise<string> {
  const dir = clipDir();
  const video = path.join(dir, 'frames.rgb');
  const sound = path.join(dir, 'audio.f32');
  fs.writeFileSync(video, frames);
  if (audio) fs.writeFileSync(sound, Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength));
  const file = path.join(dir, name);
  await runFfmpeg([
    ...['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${WIDTH}x${HEIGHT}`, '-r', String(FPS), '-i', video],
    ...(audio ? ['-f', 'f32le', '-ar', String(SAMPLE_RATE_HZ), '-ac', '1', '-i', sound, '-map', '0:v', '-map', '1:a', '-c:a', 'aac', '-b:a', '128k'] : []),
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-movflags', '+faststart'],
    file,
  ]);
  fs.rmSync(video);
  fs.rmSync(sound, { force: true });
  return file;
}

let clipRoot: (() => string) | undefined;

/** Where the clips go: a folder the caller cleans up (test/support/clips.ts names the test run's). */
export function useClipFolder(root: () => string): void {
  clipRoot = root;
}

/** The folder clips are written to (shared by every clip of the run). */
export function clipFolder(): string {
  if (!clipRoot) throw new Error('no folder for clips: call useClipFolder first (test/support/clips.ts does)');
  return clipRoot();
}

function clipDir(): string {
  return fs.mkdtempSync(path.join(clipFolder(), 'clip-'));
}

async function runFfmpeg(args: string[]): Promise<void> {
  await createFfmpeg({ ffmpegPath: loadConfig().ffmpegPath }).run(['-loglevel', 'error', '-y', ...args], `making a test clip (${args.join(' ')})`);
}

/** A small LCG: test clips must be the same on every run. */
function seeded(seed: number): () => number {
  let state = Math.floor(seed) >>> 0 || 1;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function randomBytesSeeded(length: number, seed: number): Buffer {
  const random = seeded(seed);
  return Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
}

// The one module over ffmpeg: finds the binary (FFMPEG_PATH, else the pinned build the bootstrap installed, else the
// system's ffmpeg), checks that it can do what the pipeline needs, and runs it with child_process.spawn.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Config } from '../config';
import { readTools } from '../tools';

export type FfmpegSource = 'FFMPEG_PATH' | 'pinned' | 'system';

export interface FfmpegBinary {
  path: string;
  source: FfmpegSource;
  /** First line of `ffmpeg -version`. */
  version: string;
  /**
   * The environment to run it with, when it needs one of its own; undefined runs it with ours. A statically linked
   * glibc (John Van Sickle's builds, the pinned one among them) crashes when its iconv loads the host's newer gconv
   * modules, which its MPEG-TS reader does for every stream; pointing GCONV_PATH at an empty place keeps it to none.
   */
  env?: Record<string, string>;
}

/** The oldest ffmpeg release supported: tested with 5.1 (Debian 12) and 7.0.2 (the pinned build). */
export const OLDEST_SUPPORTED_FFMPEG = { major: 5, minor: 1 };

export class FfmpegNotFound extends Error {
  constructor(readonly tried: string[]) {
    super(`no working ffmpeg: ${tried.join('; ')}`);
    this.name = 'FfmpegNotFound';
  }
}

export class FfmpegFailed extends Error {
  /**
   * ffmpeg's exit status when it ran and gave up on its input; undefined when it never got that far or was stopped
   * from outside (not started, killed by a signal, its stream broke), which says nothing about the input.
   */
  readonly exitCode: number | undefined;
  /** The signal that stopped it, when one did. */
  readonly signal: string | undefined;

  constructor(
    readonly operation: string,
    readonly stderrTail: string,
    outcome: { exitCode?: number; signal?: string; cause?: Error },
  ) {
    const how = outcome.cause?.message ?? (outcome.signal ? `killed by ${outcome.signal}` : `exit status ${outcome.exitCode}`);
    super(`ffmpeg ${operation} failed: ${how}${stderrTail ? `\n${stderrTail}` : ''}`);
    this.name = 'FfmpegFailed';
    this.exitCode = outcome.cause || outcome.signal ? undefined : outcome.exitCode;
    this.signal = outcome.signal;
  }
}

/**
 * Whether `err` is ffmpeg's own verdict on its input: it ran and exited non-zero. ffmpeg not started, killed or cut off
 * says nothing about the file.
 */
export function refusedInput(err: unknown): err is FfmpegFailed {
  return err instanceof FfmpegFailed && err.exitCode !== undefined;
}

type Check = { ok: true; version: string; env?: Record<string, string> } | { ok: false; reason: string };

/** An empty GCONV_PATH for static builds (see FfmpegBinary.env): a folder that does not exist holds no modules. */
const NO_GCONV_MODULES = { GCONV_PATH: path.join(os.tmpdir(), 'reelforge-no-gconv-modules') };

/**
 * Whether `command` is an ffmpeg the pipeline can use: it runs, is not older than OLDEST_SUPPORTED_FFMPEG, encodes
 * H.264 with libx264 and reads back the MPEG-TS it wrote (the chunk segments' format), with an empty GCONV_PATH when
 * it only can so. About 0.2 s, once per binary and process.
 */
function check(command: string): Check {
  // spawnSync looks `command` up on PATH itself, so nothing here reads the environment (infra/config alone does).
  const v = spawnSync(command, ['-hide_banner', '-version'], { encoding: 'utf8', timeout: 10_000 });
  if (v.error) return { ok: false, reason: (v.error as NodeJS.ErrnoException).code ?? v.error.message };
  if (v.status !== 0) return { ok: false, reason: `exit status ${v.status}` };
  const version = v.stdout.split('\n')[0]!.trim();
  // Release builds say "ffmpeg version 7.0.2-static", "ffmpeg version 5.1.8-0+deb12u1"; git builds ("N-1234-g…") pass.
  const release = /^ffmpeg version n?(\d+)\.(\d+)/.exec(version);
  if (release) {
    const [major, minor] = [Number(release[1]), Number(release[2])];
    const oldest = OLDEST_SUPPORTED_FFMPEG;
    if (major < oldest.major || (major === oldest.major && minor < oldest.minor))
      return { ok: false, reason: `${version}: older than ${oldest.major}.${oldest.minor}, the oldest supported` };
  }
  const quiet = ['-hide_banner', '-nostdin', '-loglevel', 'error'];
  const ts = spawnSync(command, [...quiet, '-f', 'lavfi', '-i', 'color=c=gray:s=16x16:r=24:d=0.25', '-c:v', 'libx264', '-f', 'mpegts', 'pipe:1'], {
    timeout: 20_000,
    maxBuffer: 1 << 20,
  });
  if (ts.status !== 0)
    return { ok: false, reason: `${version}: cannot encode H.264 with libx264 (${ts.signal ?? `exit status ${ts.status}`}: ${lastLine(ts.stderr)})` };
  const readBack = (env?: Record<string, string>) =>
    spawnSync(command, [...quiet, '-f', 'mpegts', '-i', 'pipe:0', '-f', 'null', '-'], { input: ts.stdout, timeout: 20_000, ...(env ? { env } : {}) });
  const plain = readBack();
  if (plain.status === 0) return { ok: true, version };
  // A crash (a signal, or 128 + its number from a wrapping shell) is what the static builds' iconv does.
  const crashed = plain.signal !== null || (plain.status ?? 0) > 128;
  if (crashed && readBack(NO_GCONV_MODULES).status === 0) return { ok: true, version, env: NO_GCONV_MODULES };
  return { ok: false, reason: `${version}: cannot read MPEG-TS back (${plain.signal ?? `exit status ${plain.status}`}: ${lastLine(plain.stderr)})` };
}

function lastLine(out: Buffer | string | null): string {
  return (out ?? '').toString().trim().split('\n').pop() || 'no message';
}

/** The ffmpeg the bootstrap installed (scripts/bootstrap.js), if it did; undefined in a deployment without one. */
function pinnedFfmpeg(): string | undefined {
  try {
    return readTools().ffmpeg?.path ?? undefined;
  } catch {
    return undefined;
  }
}

const resolved = new Map<string, FfmpegBinary>();

/**
 * Finds ffmpeg once per setting: FFMPEG_PATH, else the pinned build, else `ffmpeg` on PATH. A set FFMPEG_PATH that does
 * not work is an error rather than a silent fallback: whoever set it expects that binary (its codecs, its version).
 */
export function resolveFfmpeg(ffmpegPath: string | undefined, options: { systemCommand?: string; pinnedPath?: string | null } = {}): FfmpegBinary {
  const systemCommand = options.systemCommand ?? 'ffmpeg';
  const pinned = options.pinnedPath === undefined ? pinnedFfmpeg() : (options.pinnedPath ?? undefined);
  const cacheKey = `${ffmpegPath ?? ''}|${pinned ?? ''}|${systemCommand}`;
  const cached = resolved.get(cacheKey);
  if (cached) return cached;
  const candidates: { path: string; source: FfmpegSource; label: string }[] =
    ffmpegPath !== undefined
      ? [{ path: ffmpegPath, source: 'FFMPEG_PATH', label: `FFMPEG_PATH=${ffmpegPath}` }]
      : [
          ...(pinned ? [{ path: pinned, source: 'pinned' as const, label: `pinned ${pinned}` }] : []),
          { path: systemCommand, source: 'system', label: `system ${systemCommand}` },
        ];
  const tried: string[] = [];
  for (const candidate of candidates) {
    const c = check(candidate.path);
    if (!c.ok) {
      tried.push(`${candidate.label}: ${c.reason}`);
      continue;
    }
    const found: FfmpegBinary = { path: candidate.path, source: candidate.source, version: c.version, ...(c.env ? { env: c.env } : {}) };
    resolved.set(cacheKey, found);
    return found;
  }
  throw new FfmpegNotFound(tried);
}

export interface EncodeRgbSegment {
  /** F x H x W x 3 RGB bytes. */
  frames: Uint8Array;
  width: number;
  height: number;
  fps: number;
  /** Global index of the first frame: the segment's timestamps start at startFrame / fps, so segments join seamlessly. */
  startFrame?: number;
  outFile: string;
}

export interface MediaInfo {
  durationS: number | undefined;
  /** Frames (video packets) counted by reading the whole file. */
  videoFrames: number;
  video?: { codec: string; pixelFormat: string; width: number; height: number; fps: number };
  audio?: { codec: string; sampleRateHz: number; channels: string };
}

/** What ffmpeg sees when it opens a file, without judging it: a file it cannot open is an answer, not an error. */
export interface MediaStreams {
  /** False when ffmpeg could not open the file as media (damaged, truncated, not media at all). */
  readable: boolean;
  /** ffmpeg's last words when it could not open the file. */
  error?: string;
  /** The demuxer ffmpeg chose, as it names it ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"). */
  format?: string;
  durationS?: number;
  /** The first video stream; width and height as displayed (a 90 degree rotation tag swaps the coded size). */
  video?: { codec: string; width: number; height: number };
  /** The first audio stream. */
  audio?: { codec: string; sampleRateHz: number | undefined };
}

export interface DecodeFrames {
  width: number;
  height: number;
  /** Frames per second to sample (the fps filter drops or repeats frames); every frame of the source when absent. */
  fps?: number;
  /** Seek to this time (seconds) before decoding. */
  startS?: number;
  /** Decode at most this many seconds. */
  durationS?: number;
  /** Stop after this many frames. */
  maxFrames?: number;
  /** Crop the centred square of the picture before scaling, so the size given keeps the subject undistorted. */
  centreSquare?: boolean;
  /** Scale the picture to cover width x height, keeping its aspect ratio, and crop the centre to exactly that size. */
  cover?: boolean;
  /** Scale the picture to fit inside width x height, keeping its aspect ratio, and pad the rest with black. */
  letterbox?: boolean;
}

export interface Ffmpeg {
  readonly binary: FfmpegBinary;
  /**
   * Runs this ffmpeg with `args` (after -hide_banner -nostdin) and returns what it wrote to stdout, or rejects with
   * FfmpegFailed naming `operation`. For the few commands the methods below do not cover (test clips).
   */
  run(args: string[], operation: string): Promise<Buffer>;
  /**
   * Encodes RGB frames as one H.264 (yuv420p, BT.709) MPEG-TS segment. MPEG-TS rather than fragmented MP4: every
   * segment stands alone (no shared init segment), segments join by plain concatenation or the concat demuxer with
   * `-c copy`, and a chunk re-rendered after a retry simply replaces its file. The mux step turns them into one
   * faststart MP4 with AAC audio.
   */
  encodeRgbSegment(input: EncodeRgbSegment): Promise<{ bytes: number }>;
  /** Decodes a video file back to RGB frames at the given size (tests, moderation classifiers). */
  decodeToRgb(file: string, width: number, height: number): Promise<{ frames: Uint8Array; count: number }>;
  /** What `ffmpeg -i` says about a file (ffprobe is not everywhere ffmpeg is), plus a frame count. */
  probe(file: string): Promise<MediaInfo>;
  /** Joins chunk segments and raw PCM into one MP4 (H.264 copied, AAC, faststart), then a thumbnail and a spritesheet. */
  mux(input: MuxFiles): Promise<{ durationS: number }>;
  /** Decodes a file's audio to interleaved float samples (tests, moderation); `maxDurationS` stops early. */
  decodeAudio(file: string, sampleRateHz?: number, channels?: number, options?: { maxDurationS?: number }): Promise<Float32Array>;
  /** Opens a file and says which streams it holds; never rejects for a damaged file (upload checks). */
  inspect(file: string): Promise<MediaStreams>;
  /**
   * Decodes video frames to RGB at a given size, optionally sampled at a lower frame rate, from a point, or cropped
   * to the centre square (upload checks, likeness). The source's own colour matrix tags decide the YUV to RGB
   * conversion, unlike decodeToRgb, which reads back our BT.709 segments.
   */
  decodeFrames(file: string, options: DecodeFrames): Promise<{ frames: Uint8Array; count: number }>;
  /**
   * One chunk as a fragment of the live preview (HLS, fMP4): its MPEG-TS segment's video copied and its PCM encoded
   * to AAC, timed at `startS` on the preview's timeline. Returns the init segment (ftyp + moov, the same for every
   * chunk of a video: one encoder's settings) and the media segment (moof + mdat).
   */
  previewFragment(input: PreviewFragment): Promise<{ init: Buffer; media: Buffer }>;
}

export interface PreviewFragment {
  /** The chunk's MPEG-TS segment. */
  segment: string;
  /**
   * Signed 16-bit interleaved PCM: `prerollSamples` samples from before the chunk (the previous chunk's tail, or
   * silence), then the chunk's own. The encoder starts in the preroll, so the chunk's first AAC frame carries no
   * encoder priming and follows on from the previous fragment's sound.
   */
  audioFile: string;
  prerollSamples: number;
  sampleRateHz: number;
  channels: number;
  /** Where the chunk starts on the preview's timeline, in seconds; at least 1 (its first frame's decode time is earlier). */
  startS: number;
  /** A scratch file for the fragmented MP4. */
  outFile: string;
}

export interface MuxFiles {
  /** MPEG-TS segments, in order. */
  segments: string[];
  /** Signed 16-bit little-endian interleaved PCM covering the same time as the segments. */
  audioFile: string;
  sampleRateHz: number;
  channels: number;
  fps: number;
  width: number;
  height: number;
  content: string;
  thumbnail: string;
  spritesheet: string;
}

export function createFfmpeg(config: Pick<Config, 'ffmpegPath'>, options?: Parameters<typeof resolveFfmpeg>[1]): Ffmpeg {
  const binary = resolveFfmpeg(config.ffmpegPath, options);
  const run: Runner = (args, operation, io) => runFfmpeg(binary, args, operation, io);
  return {
    binary,
    run: async (args, operation) => (await run(args, operation, { stdout: true })).stdout,
    encodeRgbSegment: (input) => encodeRgbSegment(run, input),
    decodeToRgb: (file, width, height) => decodeToRgb(run, file, width, height),
    probe: (file) => probe(run, file),
    mux: (input) => mux(run, input),
    decodeAudio: (file, sampleRateHz = 48000, channels = 2, options = {}) => decodeAudio(run, file, sampleRateHz, channels, options),
    inspect: (file) => inspect(run, file),
    decodeFrames: (file, options) => decodeFrames(run, file, options),
    previewFragment: (input) => previewFragment(run, input),
  };
}

interface RunIo {
  /** Fed to ffmpeg's stdin (`-i pipe:0`); stdin is closed when absent. */
  stdin?: Readable;
  /** Keep stdout (`pipe:1` outputs); discarded when false. */
  stdout?: boolean;
  /** Resolve whatever the exit status (`ffmpeg -i file` with no output always exits 1). */
  anyExit?: boolean;
}

interface RunResult {
  stdout: Buffer;
  /** The last 64 KiB of stderr. */
  stderr: string;
}

type Runner = (args: string[], operation: string, io?: RunIo) => Promise<RunResult>;

const STDERR_KEEP = 64 * 1024;

/**
 * Runs ffmpeg to its exit. The result settles on 'close', once the process has exited and its stdout and stderr have
 * ended, so output is whole however late ffmpeg exits after closing it (the flake fluent-ffmpeg had: it ended a
 * command 20 ms after the output closed and killed a slow ffmpeg). A non-zero exit rejects with its status, a signal
 * with the signal; a stdin ffmpeg stops reading (EPIPE) is left to its exit status to explain.
 */
function runFfmpeg(binary: FfmpegBinary, args: string[], operation: string, io: RunIo = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary.path, ['-hide_banner', '-nostdin', ...args], {
      stdio: [io.stdin ? 'pipe' : 'ignore', io.stdout ? 'pipe' : 'ignore', 'pipe'],
      ...(binary.env ? { env: binary.env } : {}),
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.length > 2 * STDERR_KEEP) err = err.slice(-STDERR_KEEP);
    });
    const tail = () => err.trim().split('\n').slice(-6).join('\n');
    if (io.stdin) {
      child.stdin!.on('error', () => {});
      io.stdin.on('error', (cause: Error) => {
        child.kill('SIGKILL');
        reject(new FfmpegFailed(operation, tail(), { cause }));
      });
      io.stdin.pipe(child.stdin!);
    }
    child.on('error', (cause) => reject(new FfmpegFailed(operation, tail(), { cause })));
    child.on('close', (code, signal) => {
      if (signal) reject(new FfmpegFailed(operation, tail(), { signal }));
      else if (code !== 0 && !io.anyExit) reject(new FfmpegFailed(operation, tail(), { exitCode: code ?? undefined }));
      else resolve({ stdout: Buffer.concat(out), stderr: err.slice(-STDERR_KEEP) });
    });
  });
}

/** Output options that make the same inputs give the same bytes: no encoder version strings, no creation time. */
const BITEXACT = ['-fflags', '+bitexact', '-flags:v', '+bitexact', '-flags:a', '+bitexact', '-map_metadata', '-1'];

async function encodeRgbSegment(run: Runner, input: EncodeRgbSegment): Promise<{ bytes: number }> {
  const { frames, width, height, fps } = input;
  const frameBytes = width * height * 3;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width % 2 !== 0 || height % 2 !== 0 || width <= 0 || height <= 0) {
    throw new RangeError(`encodeRgbSegment: ${width}x${height} is not a positive even size (4:2:0 chroma needs even sizes)`);
  }
  if (frames.length === 0 || frames.length % frameBytes !== 0) {
    throw new RangeError(`encodeRgbSegment: ${frames.length} bytes is not a whole number of ${width}x${height} RGB frames`);
  }
  const count = frames.length / frameBytes;
  // One frame per read, without copying: the stream's backpressure keeps at most a few frames in flight.
  const stdin = Readable.from(
    (function* () {
      for (let i = 0; i < count; i++) yield Buffer.from(frames.buffer, frames.byteOffset + i * frameBytes, frameBytes);
    })(),
    { objectMode: false },
  );
  const args = [
    ...['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-video_size', `${width}x${height}`, '-framerate', String(fps), '-i', 'pipe:0'],
    // Explicit BT.709 matrix and tags, so a decoder (and decodeToRgb) turns the YUV back into the same RGB.
    ...['-vf', 'scale=out_color_matrix=bt709:out_range=tv,format=yuv420p'],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-profile:v', 'high'],
    // A keyframe per second at most, and each segment starts on one (a fresh encoder always does).
    ...['-g', String(Math.max(1, Math.round(fps)))],
    ...['-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv'],
    ...['-output_ts_offset', ((input.startFrame ?? 0) / fps).toFixed(6), '-an', '-f', 'mpegts', '-y', input.outFile],
  ];
  await run(args, `encoding ${count} frames of ${width}x${height} to ${input.outFile}`, { stdin });
  return { bytes: fs.statSync(input.outFile).size };
}

async function decodeToRgb(run: Runner, file: string, width: number, height: number): Promise<{ frames: Uint8Array; count: number }> {
  const args = ['-i', file, '-vf', `scale=${width}:${height}:in_color_matrix=bt709:in_range=tv`, '-pix_fmt', 'rgb24', '-an', '-f', 'rawvideo', 'pipe:1'];
  const { stdout } = await run(args, `decoding ${file}`, { stdout: true });
  const frames = new Uint8Array(stdout.buffer, stdout.byteOffset, stdout.byteLength);
  return { frames, count: frames.length / (width * height * 3) };
}

async function probe(run: Runner, file: string): Promise<MediaInfo> {
  // `-c copy -f framecrc` reads every packet without decoding and writes a line for each: a cheap, exact frame count
  // (the progress report's frame= counts only encoded frames from ffmpeg 7 on).
  const { stdout, stderr } = await run(['-nostats', '-i', file, '-map', '0:v:0?', '-c', 'copy', '-f', 'framecrc', 'pipe:1'], `probing ${file}`, {
    stdout: true,
  });
  const packets = stdout
    .toString()
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#')).length;
  const duration = /Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/.exec(stderr);
  const video = /Stream #\S+: Video: (\w+)[^,]*, (\w+)[^,]*(?:\([^)]*\))?, (\d+)x(\d+)[^\n]*?, ([\d.]+) fps/.exec(stderr);
  const audio = /Stream #\S+: Audio: (\w+)[^,]*, (\d+) Hz, ([^,\n]+)/.exec(stderr);
  return {
    durationS: duration ? Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3]) : undefined,
    videoFrames: packets,
    ...(video ? { video: { codec: video[1]!, pixelFormat: video[2]!, width: Number(video[3]), height: Number(video[4]), fps: Number(video[5]) } } : {}),
    ...(audio ? { audio: { codec: audio[1]!, sampleRateHz: Number(audio[2]), channels: audio[3]!.trim() } } : {}),
  };
}

/**
 * The mux. The video stream is copied, never re-encoded, so the MP4 holds exactly the frames the GPU workers made;
 * bitexact flags and no metadata (no creation time) make the same inputs give the same bytes, so a job that was
 * interrupted and resumed produces the file an uninterrupted run would.
 *
 * Audio and video stay sample-exact without any constant here: the AAC encoder's priming (1024 samples for ffmpeg's
 * encoder) is what the encoder reports, and the MP4 muxer writes it into the audio track's edit list, which players
 * and ffmpeg's own decoder skip (measured with ffmpeg 5.1 and 7.0.2, test/infra/ffmpegSync.test.ts). Perceptual noise
 * substitution is off: it replaces the high bands of an impact's click with synthetic noise, which smears quiet hits
 * (ffmpeg 5.1 moved their onsets 1 ms early or lost them).
 */
async function mux(run: Runner, input: MuxFiles): Promise<{ durationS: number }> {
  if (input.segments.length === 0) throw new RangeError('mux: no video segments');
  const pcmBytes = fs.statSync(input.audioFile).size;
  const bytesPerSample = 2 * input.channels;
  if (pcmBytes === 0 || pcmBytes % bytesPerSample !== 0)
    throw new RangeError(`mux: ${input.audioFile} holds ${pcmBytes} bytes, not whole ${input.channels}-channel samples`);
  const durationS = pcmBytes / bytesPerSample / input.sampleRateHz;
  const list = `${input.content}.concat.txt`;
  // The concat demuxer's list format: one quoted path a line, with quotes escaped.
  fs.writeFileSync(list, input.segments.map((f) => `file '${f.replace(/'/g, "'\\''")}'`).join('\n') + '\n');
  try {
    const args = [
      ...['-f', 'concat', '-safe', '0', '-i', list],
      ...['-f', 's16le', '-ar', String(input.sampleRateHz), '-ac', String(input.channels), '-i', input.audioFile],
      ...['-map', '0:v:0', '-map', '1:a:0', '-c:v', 'copy', '-c:a', 'aac', '-b:a', '160k', '-aac_pns', '0'],
      ...['-movflags', '+faststart', ...BITEXACT, '-f', 'mp4', '-y', input.content],
    ];
    await run(args, `muxing ${input.segments.length} segments into ${input.content}`);
  } finally {
    fs.rmSync(list, { force: true });
  }
  // One picture each: `-update 1` tells the image muxer the name is a file, not a numbered sequence.
  const picture = ['-an', ...BITEXACT, '-f', 'image2', '-update', '1', '-y'];
  await run(
    ['-ss', (durationS / 2).toFixed(3), '-i', input.content, '-frames:v', '1', '-q:v', '3', ...picture, input.thumbnail],
    `thumbnail of ${input.content}`,
  );
  // Two frames a second, 160 pixels wide, in rows of five.
  const tiles = Math.max(1, Math.ceil(durationS * 2));
  const columns = Math.min(5, tiles);
  const rows = Math.ceil(tiles / columns);
  await run(
    ['-i', input.content, '-vf', `fps=2,scale=160:-2,tile=${columns}x${rows}`, '-frames:v', '1', '-q:v', '4', ...picture, input.spritesheet],
    `spritesheet of ${input.content}`,
  );
  return { durationS };
}

async function decodeAudio(run: Runner, file: string, sampleRateHz: number, channels: number, options: { maxDurationS?: number }): Promise<Float32Array> {
  const limit = options.maxDurationS !== undefined ? ['-t', String(options.maxDurationS)] : [];
  const args = ['-i', file, '-vn', '-ac', String(channels), '-ar', String(sampleRateHz), ...limit, '-c:a', 'pcm_f32le', '-f', 'f32le', 'pipe:1'];
  const { stdout } = await run(args, `decoding the audio of ${file}`, { stdout: true });
  // A copy: Float32Array needs a 4-byte aligned offset, which a concatenated Buffer does not promise.
  return new Float32Array(stdout.buffer.slice(stdout.byteOffset, stdout.byteOffset + stdout.byteLength));
}

async function inspect(run: Runner, file: string): Promise<MediaStreams> {
  // With no output ffmpeg exits 1 after printing what it found, so the exit status says nothing; "Input #0" does.
  const { stderr } = await run(['-i', file], `inspecting ${file}`, { anyExit: true });
  return parseInputInfo(stderr);
}

/** Reads ffmpeg's description of its input (the stderr of `ffmpeg -i`). */
function parseInputInfo(stderr: string): MediaStreams {
  const input = /^Input #0, ([^\n]+?), from /m.exec(stderr);
  if (!input) {
    const lines = stderr
      .trim()
      .split('\n')
      .filter((l) => l.trim() !== '' && !/must be specified/.test(l));
    return { readable: false, error: lines.slice(-2).join('\n') || 'ffmpeg printed nothing' };
  }
  const lines = stderr.split('\n');
  const duration = /Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/.exec(stderr);
  const info: MediaStreams = { readable: true, format: input[1]! };
  if (duration) info.durationS = Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3]);
  // Cover art in an audio file is a one-frame "video" stream marked (attached pic): not a recording's picture.
  const videoAt = lines.findIndex((l) => /^\s*Stream #\S+: Video: /.test(l) && !l.includes('(attached pic)'));
  if (videoAt >= 0) {
    const line = lines[videoAt]!;
    const codec = /: Video: (\w+)/.exec(line)![1]!;
    const size = /, (\d+)x(\d+)/.exec(line);
    let width = size ? Number(size[1]) : 0;
    let height = size ? Number(size[2]) : 0;
    // The stream's metadata and side data follow its line, indented, until the next stream.
    const rest = lines.slice(videoAt + 1);
    const next = rest.findIndex((l) => /^\s*Stream #/.test(l));
    const block = (next >= 0 ? rest.slice(0, next) : rest).join('\n');
    const rotation = /rotate\s*:\s*(-?\d+)/.exec(block) ?? /displaymatrix: rotation of (-?[\d.]+) degrees/.exec(block);
    if (rotation && Math.round(Math.abs(Number(rotation[1]))) % 180 === 90) [width, height] = [height, width];
    info.video = { codec, width, height };
  }
  const audio = /^\s*Stream #\S+: Audio: (\w+)(?:[^\n]*?, (\d+) Hz)?/m.exec(stderr);
  if (audio) info.audio = { codec: audio[1]!, sampleRateHz: audio[2] ? Number(audio[2]) : undefined };
  return info;
}

async function decodeFrames(run: Runner, file: string, options: DecodeFrames): Promise<{ frames: Uint8Array; count: number }> {
  const { width, height } = options;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0)
    throw new RangeError(`decodeFrames: ${width}x${height} is not a positive size`);
  // fps first, so dropped frames are never cropped or scaled; area scaling averages, so a small frame is a fair summary.
  const filters = [
    ...(options.fps !== undefined ? [`fps=${options.fps}`] : []),
    ...(options.centreSquare ? ["crop='min(iw,ih)':'min(iw,ih)'"] : []),
    ...(options.cover
      ? [`scale=${width}:${height}:force_original_aspect_ratio=increase:flags=bicubic`, `crop=${width}:${height}`]
      : options.letterbox
        ? [`scale=${width}:${height}:force_original_aspect_ratio=decrease:flags=area`, `pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2`]
        : [`scale=${width}:${height}:flags=area`]),
  ];
  const args = [
    ...(options.startS !== undefined && options.startS > 0 ? ['-ss', options.startS.toFixed(3)] : []),
    ...['-i', file, '-vf', filters.join(','), '-pix_fmt', 'rgb24', '-an'],
    ...(options.durationS !== undefined ? ['-t', String(options.durationS)] : []),
    ...(options.maxFrames !== undefined ? ['-frames:v', String(options.maxFrames)] : []),
    ...['-f', 'rawvideo', 'pipe:1'],
  ];
  const { stdout } = await run(args, `decoding frames of ${file}`, { stdout: true });
  const frameBytes = width * height * 3;
  // A decoder that dies mid-frame leaves a partial frame: keep the whole ones.
  const count = Math.floor(stdout.length / frameBytes);
  return { frames: new Uint8Array(stdout.buffer, stdout.byteOffset, count * frameBytes), count };
}

/**
 * A chunk as an HLS fMP4 fragment. Every timestamp is set, none left to ffmpeg's normalisation (which would start each
 * fragment at 0): `-copyts` with `avoid_negative_ts` off and no edit list, the video's packets re-timed so its first
 * frame shows at `startS` (setts; its decode time is two B-frames earlier), the audio offset so the preroll ends at
 * `startS`, and its AAC frames that start before `startS` (priming and preroll) dropped (the noise filter's drop
 * expression), so the fragment's track decode times (tfdt) are the chunk's place on the timeline.
 */
async function previewFragment(run: Runner, input: PreviewFragment): Promise<{ init: Buffer; media: Buffer }> {
  const start = input.startS.toFixed(6);
  const audioStart = (input.startS - input.prerollSamples / input.sampleRateHz).toFixed(6);
  if (Number(audioStart) < 0) throw new RangeError(`previewFragment: the preroll starts before 0 (startS ${input.startS})`);
  const args = [
    ...['-copyts', '-i', input.segment],
    ...['-itsoffset', audioStart, '-f', 's16le', '-ar', String(input.sampleRateHz), '-ac', String(input.channels), '-i', input.audioFile],
    ...['-map', '0:v:0', '-map', '1:a:0', '-c:v', 'copy', '-bsf:v', `setts=pts=PTS-STARTPTS+${start}/TB:dts=DTS-STARTPTS+${start}/TB`],
    // Half a sample's slack: a frame starting at startS is kept.
    ...['-c:a', 'aac', '-b:a', '160k', '-aac_pns', '0', '-bsf:a', `noise=drop=lt(pts*tb\\,${start}-0.00001)`],
    ...['-movflags', '+frag_keyframe+empty_moov+default_base_moof+frag_discont+skip_trailer', '-use_editlist', '0', '-avoid_negative_ts', 'disabled'],
    ...[...BITEXACT, '-f', 'mp4', '-y', input.outFile],
  ];
  await run(args, `packaging ${input.segment} as a preview fragment`);
  const file = await fs.promises.readFile(input.outFile);
  const boxes = topLevelBoxes(file);
  const moov = boxes.findIndex((b) => b.type === 'moov');
  if (moov < 0 || !boxes.some((b) => b.type === 'moof')) throw new Error(`previewFragment: ffmpeg wrote no fragmented MP4 for ${input.segment}`);
  const end = boxes[moov]!.end;
  return { init: file.subarray(0, end), media: file.subarray(end) };
}

/** An ISO BMFF file's top-level boxes: type and where each ends. */
function topLevelBoxes(file: Buffer): { type: string; end: number }[] {
  const boxes: { type: string; end: number }[] = [];
  for (let at = 0; at + 8 <= file.length; ) {
    let size = file.readUInt32BE(at);
    const type = file.toString('latin1', at + 4, at + 8);
    if (size === 1) size = Number(file.readBigUInt64BE(at + 8));
    else if (size === 0) size = file.length - at;
    if (size < 8 || at + size > file.length) throw new Error(`a damaged MP4 box ${JSON.stringify(type)} at byte ${at}`);
    at += size;
    boxes.push({ type, end: at });
  }
  return boxes;
}

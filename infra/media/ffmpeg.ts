// The one module over ffmpeg: finds the binary (FFMPEG_PATH, else the system ffmpeg, else @ffmpeg-installer/ffmpeg) and
// wraps fluent-ffmpeg, which is unmaintained upstream, so replacing it later touches this file only.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import type { Config } from '../config';

export type FfmpegSource = 'FFMPEG_PATH' | 'system' | '@ffmpeg-installer/ffmpeg';

export interface FfmpegBinary {
  path: string;
  source: FfmpegSource;
  /** First line of `ffmpeg -version`. */
  version: string;
}

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

  constructor(
    readonly operation: string,
    readonly stderrTail: string,
    cause?: unknown,
  ) {
    super(`ffmpeg ${operation} failed: ${(cause as Error)?.message ?? 'exit status not 0'}${stderrTail ? `\n${stderrTail}` : ''}`);
    this.name = 'FfmpegFailed';
    // fluent-ffmpeg's words for a non-zero exit; a signal reads "was killed with signal".
    const exited = /ffmpeg exited with code (\d+)/.exec((cause as Error)?.message ?? '');
    this.exitCode = exited ? Number(exited[1]) : undefined;
  }
}

/**
 * Whether `err` is ffmpeg's own verdict on its input: it ran and exited non-zero. ffmpeg not started, killed or cut off
 * says nothing about the file.
 */
export function refusedInput(err: unknown): err is FfmpegFailed {
  return err instanceof FfmpegFailed && err.exitCode !== undefined;
}

function versionOf(command: string): { ok: true; version: string } | { ok: false; reason: string } {
  // spawnSync looks `command` up on PATH itself, so nothing here reads the environment (infra/config alone does).
  const result = spawnSync(command, ['-hide_banner', '-version'], { encoding: 'utf8', timeout: 10_000 });
  if (result.error) return { ok: false, reason: (result.error as NodeJS.ErrnoException).code ?? result.error.message };
  if (result.status !== 0) return { ok: false, reason: `exit status ${result.status}` };
  return { ok: true, version: result.stdout.split('\n')[0]!.trim() };
}

const resolved = new Map<string, FfmpegBinary>();

/**
 * Finds ffmpeg once per setting. A set FFMPEG_PATH that does not run is an error rather than a silent fallback:
 * whoever set it expects that binary (its codecs, its version).
 */
export function resolveFfmpeg(ffmpegPath: string | undefined, options: { systemCommand?: string; bundledPath?: () => string } = {}): FfmpegBinary {
  const systemCommand = options.systemCommand ?? 'ffmpeg';
  const cacheKey = `${ffmpegPath ?? ''}|${systemCommand}`;
  const cached = resolved.get(cacheKey);
  if (cached) return cached;
  const tried: string[] = [];
  let found: FfmpegBinary | undefined;
  if (ffmpegPath !== undefined) {
    const v = versionOf(ffmpegPath);
    if (!v.ok) throw new FfmpegNotFound([`FFMPEG_PATH=${ffmpegPath} does not run (${v.reason})`]);
    found = { path: ffmpegPath, source: 'FFMPEG_PATH', version: v.version };
  } else {
    const system = versionOf(systemCommand);
    if (system.ok) found = { path: systemCommand, source: 'system', version: system.version };
    else tried.push(`system ${systemCommand}: ${system.reason}`);
    if (!found) {
      try {
        const bundled = (options.bundledPath ?? (() => (require('@ffmpeg-installer/ffmpeg') as { path: string }).path))();
        const v = versionOf(bundled);
        if (v.ok) found = { path: bundled, source: '@ffmpeg-installer/ffmpeg', version: v.version };
        else tried.push(`@ffmpeg-installer/ffmpeg at ${bundled}: ${v.reason}`);
      } catch (err) {
        tried.push(`@ffmpeg-installer/ffmpeg: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  }
  if (!found) throw new FfmpegNotFound(tried);
  resolved.set(cacheKey, found);
  return found;
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
}

export interface Ffmpeg {
  readonly binary: FfmpegBinary;
  /**
   * Encodes RGB frames as one H.264 (yuv420p, BT.709) MPEG-TS segment. MPEG-TS rather than fragmented MP4: every
   * segment stands alone (no shared init segment), segments join by plain concatenation or the concat demuxer with
   * `-c copy`, and a chunk re-rendered after a retry simply replaces its file. The mux step turns them into one
   * faststart MP4 with AAC audio.
   */
  encodeRgbSegment(input: EncodeRgbSegment): Promise<{ bytes: number }>;
  /** Decodes a video file back to RGB frames at the given size (tests, moderation classifiers). */
  decodeToRgb(file: string, width: number, height: number): Promise<{ frames: Uint8Array; count: number }>;
  /** What `ffmpeg -i` says about a file (ffprobe is not shipped by @ffmpeg-installer), plus a frame count. */
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
  return {
    binary,
    encodeRgbSegment: (input) => encodeRgbSegment(binary.path, input),
    decodeToRgb: (file, width, height) => decodeToRgb(binary.path, file, width, height),
    probe: (file) => probe(binary.path, file),
    mux: (input) => mux(binary.path, input),
    decodeAudio: (file, sampleRateHz = 48000, channels = 2, options = {}) => decodeAudio(binary.path, file, sampleRateHz, channels, options),
    inspect: (file) => inspect(binary.path, file),
    decodeFrames: (file, options) => decodeFrames(binary.path, file, options),
  };
}

/**
 * Runs a fluent-ffmpeg command whose output is its stdout, and returns what it wrote there.
 *
 * fluent-ffmpeg ends a command 20 ms after its output stream emits 'close', with the error "Output stream closed", and
 * kills ffmpeg if it has not exited by then; on a loaded machine ffmpeg often exits later than that, and a decode
 * that went right read as failed (a cameo clip was once judged undecodable so). The sink here never emits 'close',
 * so the command ends on ffmpeg's own exit status, and the output is whole once the sink has also ended.
 */
async function runToBuffer(command: ffmpeg.FfmpegCommand, operation: string): Promise<Buffer> {
  const sink = new PassThrough({ emitClose: false });
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((resolve) => sink.once('end', resolve));
  await runCommand(command.output(sink), operation);
  await ended;
  return Buffer.concat(chunks);
}

/** Runs a fluent-ffmpeg command to its end, keeping the last lines of stderr for the error. */
function runCommand(command: ffmpeg.FfmpegCommand, operation: string): Promise<void> {
  return new Promise((resolve, reject) => {
    command
      .on('error', (err: Error, _stdout: string | null, stderr: string | null) => {
        reject(new FfmpegFailed(operation, (stderr ?? '').trim().split('\n').slice(-6).join('\n'), err));
      })
      .on('end', () => resolve())
      .run();
  });
}

async function encodeRgbSegment(binary: string, input: EncodeRgbSegment): Promise<{ bytes: number }> {
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
  const source = Readable.from(
    (function* () {
      for (let i = 0; i < count; i++) yield Buffer.from(frames.buffer, frames.byteOffset + i * frameBytes, frameBytes);
    })(),
    { objectMode: false },
  );
  const command = ffmpeg()
    .setFfmpegPath(binary)
    .input(source)
    .inputFormat('rawvideo')
    .inputOptions(['-pix_fmt rgb24', `-video_size ${width}x${height}`, `-framerate ${fps}`])
    // Explicit BT.709 matrix and tags, so a decoder (and decodeToRgb) turns the YUV back into the same RGB.
    .videoFilters(`scale=out_color_matrix=bt709:out_range=tv,format=yuv420p`)
    .videoCodec('libx264')
    .outputOptions([
      '-preset veryfast',
      '-crf 18',
      '-profile:v high',
      // A keyframe per second at most, and each segment starts on one (a fresh encoder always does).
      `-g ${Math.max(1, Math.round(fps))}`,
      '-colorspace bt709',
      '-color_primaries bt709',
      '-color_trc bt709',
      '-color_range tv',
      `-output_ts_offset ${((input.startFrame ?? 0) / fps).toFixed(6)}`,
      '-an',
    ])
    .format('mpegts')
    .output(input.outFile);
  await runCommand(command, `encoding ${count} frames of ${width}x${height} to ${input.outFile}`);
  return { bytes: fs.statSync(input.outFile).size };
}

async function decodeToRgb(binary: string, file: string, width: number, height: number): Promise<{ frames: Uint8Array; count: number }> {
  const command = ffmpeg(file)
    .setFfmpegPath(binary)
    .videoFilters(`scale=${width}:${height}:in_color_matrix=bt709:in_range=tv`)
    .outputOptions(['-pix_fmt rgb24', '-an'])
    .format('rawvideo');
  const frames = new Uint8Array(await runToBuffer(command, `decoding ${file}`));
  return { frames, count: frames.length / (width * height * 3) };
}

function probe(binary: string, file: string): Promise<MediaInfo> {
  return new Promise((resolve, reject) => {
    // `-c copy -f null -` reads every packet without decoding: a cheap, exact frame count.
    const child = spawn(binary, ['-hide_banner', '-nostats', '-i', file, '-map', '0:v:0?', '-c', 'copy', '-f', 'null', '-progress', 'pipe:1', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const how = signal ? `ffmpeg was killed with signal ${signal}` : `ffmpeg exited with code ${code}`;
      if (code !== 0) return reject(new FfmpegFailed(`probing ${file}`, err.trim().split('\n').slice(-4).join('\n'), new Error(how)));
      const duration = /Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/.exec(err);
      const video = /Stream #\S+: Video: (\w+)[^,]*, (\w+)[^,]*(?:\([^)]*\))?, (\d+)x(\d+)[^\n]*?, ([\d.]+) fps/.exec(err);
      const audio = /Stream #\S+: Audio: (\w+)[^,]*, (\d+) Hz, ([^,\n]+)/.exec(err);
      const frames = [...out.matchAll(/^frame=(\d+)$/gm)].pop();
      resolve({
        durationS: duration ? Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3]) : undefined,
        videoFrames: frames ? Number(frames[1]) : 0,
        ...(video ? { video: { codec: video[1]!, pixelFormat: video[2]!, width: Number(video[3]), height: Number(video[4]), fps: Number(video[5]) } } : {}),
        ...(audio ? { audio: { codec: audio[1]!, sampleRateHz: Number(audio[2]), channels: audio[3]!.trim() } } : {}),
      });
    });
  });
}

/**
 * The mux. The video stream is copied, never re-encoded, so the MP4 holds exactly the frames the GPU workers made;
 * bitexact flags and no metadata (no creation time) make the same inputs give the same bytes, so a job that was
 * interrupted and resumed produces the file an uninterrupted run would.
 */
async function mux(binary: string, input: MuxFiles): Promise<{ durationS: number }> {
  if (input.segments.length === 0) throw new RangeError('mux: no video segments');
  const pcmBytes = fs.statSync(input.audioFile).size;
  const bytesPerSample = 2 * input.channels;
  if (pcmBytes === 0 || pcmBytes % bytesPerSample !== 0) throw new RangeError(`mux: ${input.audioFile} holds ${pcmBytes} bytes, not whole ${input.channels}-channel samples`);
  const durationS = pcmBytes / bytesPerSample / input.sampleRateHz;
  const list = `${input.content}.concat.txt`;
  // The concat demuxer's list format: one quoted path a line, with quotes escaped.
  fs.writeFileSync(list, input.segments.map((f) => `file '${f.replace(/'/g, "'\\''")}'`).join('\n') + '\n');
  const bitexact = ['-fflags +bitexact', '-flags:v +bitexact', '-flags:a +bitexact', '-map_metadata -1'];
  try {
    await runCommand(
      ffmpeg()
        .setFfmpegPath(binary)
        .input(list)
        .inputOptions(['-f concat', '-safe 0'])
        .input(input.audioFile)
        .inputOptions(['-f s16le', `-ar ${input.sampleRateHz}`, `-ac ${input.channels}`])
        .outputOptions(['-map 0:v:0', '-map 1:a:0', '-c:v copy', '-c:a aac', '-b:a 160k', '-movflags +faststart', ...bitexact])
        .format('mp4')
        .output(input.content),
      `muxing ${input.segments.length} segments into ${input.content}`,
    );
  } finally {
    fs.rmSync(list, { force: true });
  }
  await runCommand(
    ffmpeg(input.content)
      .setFfmpegPath(binary)
      .inputOptions([`-ss ${(durationS / 2).toFixed(3)}`])
      .outputOptions(['-frames:v 1', '-q:v 3', '-an', ...bitexact])
      .format('image2')
      .output(input.thumbnail),
    `thumbnail of ${input.content}`,
  );
  // Two frames a second, 160 pixels wide, in rows of five.
  const tiles = Math.max(1, Math.ceil(durationS * 2));
  const columns = Math.min(5, tiles);
  const rows = Math.ceil(tiles / columns);
  await runCommand(
    ffmpeg(input.content)
      .setFfmpegPath(binary)
      .videoFilters([`fps=2`, `scale=160:-2`, `tile=${columns}x${rows}`])
      .outputOptions(['-frames:v 1', '-q:v 4', '-an', ...bitexact])
      .format('image2')
      .output(input.spritesheet),
    `spritesheet of ${input.content}`,
  );
  return { durationS };
}

async function decodeAudio(binary: string, file: string, sampleRateHz: number, channels: number, options: { maxDurationS?: number }): Promise<Float32Array> {
  const command = ffmpeg(file)
    .setFfmpegPath(binary)
    .outputOptions(['-vn', `-ac ${channels}`, `-ar ${sampleRateHz}`, ...(options.maxDurationS !== undefined ? [`-t ${options.maxDurationS}`] : [])])
    .audioCodec('pcm_f32le')
    .format('f32le');
  const all = await runToBuffer(command, `decoding the audio of ${file}`);
  return new Float32Array(all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength));
}

function inspect(binary: string, file: string): Promise<MediaStreams> {
  return new Promise((resolve, reject) => {
    // With no output ffmpeg exits 1 after printing what it found, so the exit status says nothing; "Input #0" does.
    const child = spawn(binary, ['-hide_banner', '-nostdin', '-i', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(parseInputInfo(err)));
  });
}

/** Reads ffmpeg's description of its input (the stderr of `ffmpeg -i`). */
function parseInputInfo(stderr: string): MediaStreams {
  const input = /^Input #0, ([^\n]+?), from /m.exec(stderr);
  if (!input) {
    const lines = stderr.trim().split('\n').filter((l) => l.trim() !== '' && !/must be specified/.test(l));
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

async function decodeFrames(binary: string, file: string, options: DecodeFrames): Promise<{ frames: Uint8Array; count: number }> {
  const { width, height } = options;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) throw new RangeError(`decodeFrames: ${width}x${height} is not a positive size`);
  // fps first, so dropped frames are never cropped or scaled; area scaling averages, so a small frame is a fair summary.
  const filters = [
    ...(options.fps !== undefined ? [`fps=${options.fps}`] : []),
    ...(options.centreSquare ? ["crop='min(iw,ih)':'min(iw,ih)'"] : []),
    ...(options.cover ? [`scale=${width}:${height}:force_original_aspect_ratio=increase:flags=bicubic`, `crop=${width}:${height}`] : [`scale=${width}:${height}:flags=area`]),
  ];
  const command = ffmpeg(file).setFfmpegPath(binary);
  if (options.startS !== undefined && options.startS > 0) command.seekInput(options.startS.toFixed(3));
  command
    .videoFilters(filters)
    .outputOptions([
      '-pix_fmt rgb24',
      '-an',
      ...(options.durationS !== undefined ? [`-t ${options.durationS}`] : []),
      ...(options.maxFrames !== undefined ? [`-frames:v ${options.maxFrames}`] : []),
    ])
    .format('rawvideo');
  const all = await runToBuffer(command, `decoding frames of ${file}`);
  const frameBytes = width * height * 3;
  // A decoder that dies mid-frame leaves a partial frame: keep the whole ones.
  const count = Math.floor(all.length / frameBytes);
  return { frames: new Uint8Array(all.buffer, all.byteOffset, count * frameBytes), count };
}

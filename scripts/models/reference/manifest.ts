// The reference pack's manifest.json: the tensor contract of gpu-workers/models/README.md, written out as data. The
// key order here is the file's key order, so the build is byte for byte reproducible.
import type { ModelPackManifest } from '../../../gpu-workers/engine/manifest';
import { HASH_BUCKETS, MAX_TOKENS } from './vocab';

const BODIES = 8;
const SUBSTEPS = 8;
const FPS = 24;
const SAMPLE_RATE_HZ = 48_000;
const SAMPLES_PER_FRAME = SAMPLE_RATE_HZ / FPS;

/** The sizes of API.md, width x height: square, portrait and landscape. */
export const RESOLUTIONS = ['256x256', '512x512', '480x854', '854x480', '720x1280', '1280x720', '1024x1792', '1792x1024'];

/** The manifest without `files`: the build adds the hashes of the files it made. */
export function buildManifest(): Omit<ModelPackManifest, 'files'> {
  return {
    name: 'reference',
    version: '1.0.0',
    description:
      'Stand-in for a video model: a prompt becomes up to 8 bodies under gravity that bounce and collide, rendered with a style and a camera move; every impact sounds on its exact audio sample.',
    fps: FPS,
    sample_rate_hz: SAMPLE_RATE_HZ,
    frames_per_chunk: 24,
    samples_per_frame: SAMPLES_PER_FRAME,
    max_bodies: BODIES,
    resolutions: RESOLUTIONS,
    styles: ['cinematic', 'anime', 'noir'],
    cameras: ['static', 'pan', 'zoom'],
    tokenizer: { kind: 'word-hash', vocab: 'vocab.json', features: 'vocab-features.json', max_tokens: MAX_TOKENS, hash_buckets: HASH_BUCKETS },
    cameo: { texture: [32, 32, 3], voice: [8] },
    audio_carry_frames: 6,
    graphs: {
      text: {
        file: 'text.onnx',
        inputs: [
          { name: 'tokens', dtype: 'int64', shape: [MAX_TOKENS] },
          { name: 'seed', dtype: 'int64', shape: [] },
          { name: 'aspect', dtype: 'float32', shape: [] },
        ],
        outputs: [
          { name: 'bodies', dtype: 'float32', shape: [BODIES, 8] },
          { name: 'initial_state', dtype: 'float32', shape: [BODIES, 4] },
          { name: 'world', dtype: 'float32', shape: [8] },
          { name: 'ambient', dtype: 'float32', shape: [4] },
        ],
      },
      video: {
        file: 'video.onnx',
        inputs: [
          { name: 'bodies', dtype: 'float32', shape: [BODIES, 8] },
          { name: 'world', dtype: 'float32', shape: [8] },
          { name: 'state_in', dtype: 'float32', shape: [BODIES, 4] },
          { name: 'start_frame', dtype: 'int64', shape: [] },
          { name: 'num_frames', dtype: 'int64', shape: [] },
          { name: 'height', dtype: 'int64', shape: [] },
          { name: 'width', dtype: 'int64', shape: [] },
          { name: 'style', dtype: 'int64', shape: [] },
          { name: 'camera', dtype: 'int64', shape: [] },
          { name: 'cameo_texture', dtype: 'float32', shape: [32, 32, 3] },
          { name: 'cameo_body', dtype: 'int64', shape: [] },
          { name: 'backdrop', dtype: 'float32', shape: ['BH', 'BW', 3] },
          { name: 'backdrop_weight', dtype: 'float32', shape: [] },
        ],
        outputs: [
          { name: 'frames', dtype: 'uint8', shape: ['F', 'H', 'W', 3] },
          { name: 'state_out', dtype: 'float32', shape: [BODIES, 4] },
          { name: 'events', dtype: 'float32', shape: ['F', SUBSTEPS, BODIES, 4] },
        ],
      },
      audio: {
        file: 'audio.onnx',
        inputs: [
          { name: 'events', dtype: 'float32', shape: ['P+F', SUBSTEPS, BODIES, 4] },
          { name: 'bodies', dtype: 'float32', shape: [BODIES, 8] },
          { name: 'ambient', dtype: 'float32', shape: [4] },
          { name: 'start_frame', dtype: 'int64', shape: [] },
          { name: 'voice', dtype: 'float32', shape: [8] },
          { name: 'cameo_body', dtype: 'int64', shape: [] },
        ],
        outputs: [{ name: 'audio', dtype: 'float32', shape: [`F*${SAMPLES_PER_FRAME}`, 2] }],
      },
    },
  };
}

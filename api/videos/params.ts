// The parameters of POST /v1/videos, checked field by field and normalized into what VideoRequested records: JSON
// and multipart (all strings) go through this one validator, so both refuse alike and every failure names its field.
import { createHash } from 'node:crypto';
import { contentRefusal, invalidParams } from '../plugins/errors';
import { deadlineProblem } from './cancelAfter';
import { promptProblem } from '../../domain/text';
import {
  CAMEO_ID_PATTERN,
  MODEL_ALIAS_PATTERN,
  SECONDS_TEXT_PATTERN,
  SEED_TEXT_PATTERN,
  CAMERA_MOVES,
  DEFAULT_SECONDS,
  SECONDS_MAX,
  SECONDS_MIN,
  SEED_MAX,
  VIDEO_SIZES,
  VIDEO_STYLES,
} from './schemas';

export type FieldError = { field: string; message: string };

/** What a create request asks for, before the server fills in the seed. */
export interface CreateVideoParams {
  prompt: string;
  model: string;
  seconds: number;
  size: (typeof VIDEO_SIZES)[number];
  style: (typeof VIDEO_STYLES)[number];
  camera: (typeof CAMERA_MOVES)[number];
  /** null: the server picks one at random (and records it). */
  seed: number | null;
  cameo_ids: string[];
  publish: boolean;
  /** Unix seconds: the job is cancelled (`deadline_exceeded`) if not done by then; null: none (Cancel-After may set one). */
  deadline: number | null;
}

/** The request's fields as they arrived: JSON values, or multipart strings (a repeated field as an array). */
export interface RawCreateRequest {
  source: 'json' | 'multipart';
  fields: Record<string, unknown>;
}

export interface ParamOptions {
  /** The configured model pack's name: the default model, and what the aliases stand for. */
  modelName: string;
}

/** The OpenAI model names the SDKs send (with or without a snapshot date), accepted as aliases of the configured pack. */
const MODEL_ALIAS = new RegExp(MODEL_ALIAS_PATTERN);
const SECONDS_TEXT = new RegExp(SECONDS_TEXT_PATTERN);
const SEED_TEXT = new RegExp(SEED_TEXT_PATTERN);
const MAX_CAMEOS = 4;
const CAMEO_ID = new RegExp(CAMEO_ID_PATTERN);

const KNOWN_FIELDS = new Set(['prompt', 'model', 'seconds', 'size', 'style', 'camera', 'seed', 'cameo_ids', 'publish', 'input_reference', 'deadline']);

function oneOfMessage(values: readonly string[]): string {
  return `must be one of ${values.map((v) => `"${v}"`).join(', ')}`;
}

// Shared with every route that reports field errors.
export { invalidParams };

/**
 * Checks and normalizes the fields; throws a 400 ProblemError naming every bad field, with `earlierErrors` (the
 * image's, from createRequest.ts, which reads `input_reference`) among them.
 */
export function parseCreateParams(raw: RawCreateRequest, options: ParamOptions, earlierErrors: readonly FieldError[] = []): CreateVideoParams {
  const errors: FieldError[] = [...earlierErrors];
  const fail = (field: string, message: string): undefined => {
    errors.push({ field, message });
    return undefined;
  };
  const multipart = raw.source === 'multipart';
  const { fields } = raw;

  for (const name of Object.keys(fields)) {
    // Refused rather than ignored, as the OpenAI API does: a misspelt `second` must not quietly render 4 seconds.
    if (!KNOWN_FIELDS.has(name)) fail(name, 'is not a parameter of this endpoint');
  }

  /** A single value; in a form, a field given twice is ambiguous and refused. */
  const single = (name: string): unknown => {
    const v = fields[name];
    if (multipart && Array.isArray(v)) return fail(name, 'is given more than once');
    return v;
  };

  const text = (name: string): string | undefined => {
    const v = single(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') return fail(name, 'must be a string');
    return v;
  };

  const choice = <T extends string>(name: string, values: readonly T[], fallback: T): T => {
    const v = text(name);
    if (v === undefined) return fallback;
    if (!(values as readonly string[]).includes(v)) {
      fail(name, oneOfMessage(values));
      return fallback;
    }
    return v as T;
  };

  // prompt: required, and one the engine renders (domain/text.ts: 1..2000 characters, not blank, no control
  // character but tab and line ends, no lone surrogate), so nothing accepted here fails in the GPU worker.
  let prompt = '';
  const promptValue = single('prompt');
  const promptRefusal = promptValue === undefined || promptValue === null ? 'is required' : promptProblem(promptValue);
  if (promptRefusal !== undefined) fail('prompt', promptRefusal);
  else prompt = promptValue as string;

  let model = options.modelName;
  const modelValue = text('model');
  if (modelValue !== undefined) {
    if (modelValue === options.modelName || MODEL_ALIAS.test(modelValue)) model = options.modelName;
    else fail('model', `must be "${options.modelName}" (the installed model pack), or "sora-2" or "sora-2-pro", its aliases`);
  }

  let seconds = DEFAULT_SECONDS;
  const secondsValue = single('seconds');
  if (secondsValue !== undefined) {
    const n =
      typeof secondsValue === 'number' ? secondsValue : typeof secondsValue === 'string' && SECONDS_TEXT.test(secondsValue) ? Number(secondsValue) : NaN;
    if (!Number.isInteger(n) || n < SECONDS_MIN || n > SECONDS_MAX) {
      fail('seconds', `must be an integer from ${SECONDS_MIN} to ${SECONDS_MAX}, as a number or a string ("4", "8" or "12", as the OpenAI API has them)`);
    } else seconds = n;
  }

  const size = choice('size', VIDEO_SIZES, '720x1280');
  const style = choice('style', VIDEO_STYLES, 'cinematic');
  const camera = choice('camera', CAMERA_MOVES, 'static');

  let seed: number | null = null;
  const seedValue = single('seed');
  if (seedValue !== undefined && seedValue !== null) {
    // A form carries numbers as text; in JSON a seed is a number, as the schema documents.
    const n = typeof seedValue === 'number' ? seedValue : multipart && typeof seedValue === 'string' && SEED_TEXT.test(seedValue) ? Number(seedValue) : NaN;
    if (!Number.isInteger(n) || n < 0 || n > SEED_MAX) fail('seed', `must be an integer from 0 to ${SEED_MAX}`);
    else seed = n;
  }

  let cameoIds: string[] = [];
  const cameoValue = fields.cameo_ids;
  if (cameoValue !== undefined) {
    const list = multipart ? (Array.isArray(cameoValue) ? cameoValue : [cameoValue]) : cameoValue;
    if (!Array.isArray(list) || list.some((c) => typeof c !== 'string')) fail('cameo_ids', 'must be a list of cameo ids');
    else if (list.length > MAX_CAMEOS) fail('cameo_ids', `at most ${MAX_CAMEOS} cameos, got ${list.length}`);
    else if ((list as string[]).some((c) => !CAMEO_ID.test(c)))
      fail('cameo_ids', `${JSON.stringify((list as string[]).find((c) => !CAMEO_ID.test(c)))} is not a cameo id (cameo_ followed by letters and digits)`);
    else if (new Set(list).size !== list.length) fail('cameo_ids', 'names a cameo more than once');
    else cameoIds = list as string[];
  }

  let publish = false;
  const publishValue = single('publish');
  if (publishValue !== undefined) {
    if (typeof publishValue === 'boolean') publish = publishValue;
    else if (multipart && (publishValue === 'true' || publishValue === 'false')) publish = publishValue === 'true';
    else fail('publish', multipart ? 'must be "true" or "false"' : 'must be a boolean');
  }

  let deadline: number | null = null;
  const deadlineValue = single('deadline');
  if (deadlineValue !== undefined && deadlineValue !== null) {
    const n =
      typeof deadlineValue === 'number'
        ? deadlineValue
        : multipart && typeof deadlineValue === 'string' && /^\d{1,12}$/.test(deadlineValue)
          ? Number(deadlineValue)
          : NaN;
    // Not a whole number breaks the schema (400); one outside the next 24 h is well formed but unusable (422).
    const problem = Number.isInteger(n) ? deadlineProblem(n, Math.floor(Date.now() / 1000)) : 'must be a time in Unix seconds (a whole number)';
    if (problem === undefined) deadline = n;
    else if (Number.isInteger(n)) errors.push(contentRefusal('deadline', problem));
    else fail('deadline', problem);
  }

  if (errors.length > 0) throw invalidParams(errors);
  return { prompt, model, seconds, size, style, camera, seed, cameo_ids: cameoIds, publish, deadline };
}

/**
 * What "the same body" means for Idempotency-Key: the normalized parameters (so `"8"` and `8` agree, and an absent
 * seed stays absent rather than becoming the random one) and the digest of the uploaded image, in a fixed order.
 */
export function requestHash(params: CreateVideoParams, inputReference: Buffer | undefined): string {
  const canonical = JSON.stringify([
    params.prompt,
    params.model,
    params.seconds,
    params.size,
    params.style,
    params.camera,
    params.seed,
    params.cameo_ids,
    params.publish,
    inputReference ? createHash('sha256').update(inputReference).digest('hex') : null,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

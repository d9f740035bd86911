// Reads a cameo upload (POST /v1/cameos, POST /v1/videos/characters): a multipart form of a few short text fields and
// one recording, bounded in size while it streams in. The recording is judged by its first bytes (sniffMedia), never
// by its file name or the content type the client declares; every problem is collected and reported together.
import type { FastifyRequest } from 'fastify';
// For its FastifyRequest augmentation (isMultipart, parts); the plugin itself is registered in server.ts.
import type {} from '@fastify/multipart';
import { visibleTextProblem } from '../../domain/text';
import { SNIFF_HEAD_BYTES, sniffMedia } from '../../infra/media/sniff';
import { contentRefusal, ProblemError } from '../plugins/errors';
import { readForm } from '../videos/multipart';
import type { FieldError } from '../videos/params';

/** The largest recording accepted unless the cameos config says otherwise. */
export const DEFAULT_RECORDING_MAX_BYTES = 50 * 1024 * 1024;
export const DISPLAY_NAME_MAX_CHARS = 80;

export interface UploadForm {
  /** Text fields, each given once; a repeated or unknown field is already in `errors`. */
  fields: Record<string, string>;
  /** The recording's bytes when it is a video by its content; undefined when absent or refused (see `errors`). */
  recording: Buffer | undefined;
  errors: FieldError[];
}

export interface UploadSpec {
  /** The file part's name: `recording` (cameos) or `video` (characters, as the OpenAI SDK sends it). */
  fileField: string;
  textFields: readonly string[];
  maxBytes: number;
}

function unsupportedMediaType(request: FastifyRequest): ProblemError {
  const type = request.headers['content-type']?.split(';')[0]?.trim();
  return new ProblemError({
    status: 415,
    code: 'unsupported_media_type',
    detail: `Content-Type ${type ? `"${type}" ` : ''}is not accepted here: send multipart/form-data with the recording as a file part`,
    errors: [{ field: 'Content-Type', message: 'must be multipart/form-data' }],
  });
}

/** What the recording's first bytes say it is, as a field error when it is not a video. */
function judgeRecording(bytes: Buffer): string | undefined {
  if (bytes.length === 0) return 'is empty';
  const sniffed = sniffMedia(bytes.subarray(0, SNIFF_HEAD_BYTES));
  if (sniffed.kind === 'image') return 'a still image, not a video';
  if (sniffed.kind !== 'video') return 'not a video file';
  return undefined;
}

export async function readUpload(request: FastifyRequest, spec: UploadSpec): Promise<UploadForm> {
  if (!request.isMultipart()) throw unsupportedMediaType(request);
  const form = await readForm(request, {
    field: spec.fileField,
    maxBytes: spec.maxBytes,
    tooLargeCode: 'recording_too_large',
    textFields: spec.textFields,
    // toBuffer throws FST_REQ_FILE_TOO_LARGE past the limit, so an oversized upload is never held whole.
    readFile: (part) => part.toBuffer(),
  });
  const { fields, errors } = form;
  let recording: Buffer | undefined;
  if (form.file) {
    const problem = judgeRecording(form.file);
    if (problem) errors.push(contentRefusal(spec.fileField, problem));
    else recording = form.file;
  } else if (!errors.some((e) => e.field === spec.fileField)) errors.push({ field: spec.fileField, message: 'is required (a video file with audio)' });
  return { fields, recording, errors };
}

/** A display name: required, 1..80 characters (code points), not blank, no control characters. */
export function checkDisplayName(field: string, value: string | undefined, errors: FieldError[]): string {
  if (value === undefined) {
    errors.push({ field, message: 'is required' });
    return '';
  }
  const length = [...value].length;
  if (length === 0 || value.trim() === '') errors.push({ field, message: 'must not be empty or blank' });
  else if (length > DISPLAY_NAME_MAX_CHARS) errors.push({ field, message: `must be at most ${DISPLAY_NAME_MAX_CHARS} characters (it has ${length})` });
  else if (visibleTextProblem(value, DISPLAY_NAME_MAX_CHARS) !== undefined) errors.push({ field, message: visibleTextProblem(value, DISPLAY_NAME_MAX_CHARS)! });
  else return value.trim();
  return '';
}

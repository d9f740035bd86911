// Reads a cameo upload (POST /v1/cameos, POST /v1/videos/characters): a multipart form of a few short text fields and
// one recording, bounded in size while it streams in. The recording is judged by its first bytes (sniffMedia), never
// by its file name or the content type the client declares; every problem is collected and reported together.
import type { FastifyRequest } from 'fastify';
// For its FastifyRequest augmentation (isMultipart, parts); the plugin itself is registered in server.ts.
import type {} from '@fastify/multipart';
import { visibleTextProblem } from '../../domain/text';
import { SNIFF_HEAD_BYTES, sniffMedia } from '../../infra/media/sniff';
import { contentRefusal, ProblemError } from '../plugins/errors';
import { invalidParams, type FieldError } from '../videos/params';

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

/** multipart errors of @fastify/multipart, by code, as problems that name what was too big or malformed. */
function multipartProblem(err: unknown, spec: UploadSpec): unknown {
  const code = (err as { code?: string })?.code;
  if (code === 'FST_REQ_FILE_TOO_LARGE') {
    const message = `is larger than ${spec.maxBytes} bytes`;
    return new ProblemError({ status: 413, code: 'recording_too_large', detail: `${spec.fileField}: ${message}`, errors: [{ field: spec.fileField, message }] });
  }
  if (code === 'FST_FILES_LIMIT') {
    return new ProblemError({ status: 413, code: 'too_many_files', detail: 'only one file may be sent', errors: [{ field: spec.fileField, message: 'only one file may be sent' }] });
  }
  if (code === 'FST_FIELDS_LIMIT' || code === 'FST_PARTS_LIMIT') {
    return new ProblemError({ status: 413, code: 'too_many_fields', detail: 'the form has too many fields', errors: [{ field: 'body', message: 'has too many fields' }] });
  }
  if (code === 'FST_PROTO_VIOLATION') return invalidParams([{ field: 'body', message: 'a field name is not allowed' }]);
  if (code === 'FST_MP_PREMATURE_CLOSE') return invalidParams([{ field: 'body', message: 'the form ended before it was complete' }]);
  // busboy's own parse failures ("Unexpected end of form", a missing boundary): the body is malformed, not the server.
  if (err instanceof Error && !(err instanceof ProblemError) && (code === undefined || /^(FST_|ERR_)/.test(code)) && /form|boundary|multipart|part/i.test(err.message)) {
    return invalidParams([{ field: 'body', message: `is not a well-formed multipart form: ${err.message}` }]);
  }
  return err;
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
  const fields: Record<string, string> = {};
  const repeated = new Set<string>();
  const errors: FieldError[] = [];
  let recording: Buffer | undefined;
  let fileSeen = false;
  try {
    for await (const part of request.parts({ limits: { fileSize: spec.maxBytes, files: 1 } })) {
      if (part.type === 'file') {
        if (part.fieldname !== spec.fileField) {
          part.file.resume();
          errors.push({ field: part.fieldname, message: `is not a file parameter of this endpoint (only ${spec.fileField} is)` });
          continue;
        }
        fileSeen = true;
        // toBuffer throws FST_REQ_FILE_TOO_LARGE past the limit, so an oversized upload is never held whole.
        const bytes = await part.toBuffer();
        const problem = judgeRecording(bytes);
        if (problem) errors.push(contentRefusal(spec.fileField, problem));
        else recording = bytes;
        continue;
      }
      const name = part.fieldname;
      const value = typeof part.value === 'string' ? part.value : String(part.value);
      if (name === spec.fileField) errors.push({ field: name, message: 'must be sent as a file part (with a filename), not as a text field' });
      else if (!spec.textFields.includes(name)) errors.push({ field: name, message: 'is not a parameter of this endpoint' });
      else if (part.valueTruncated) errors.push({ field: name, message: 'is too long' });
      else if (name in fields || repeated.has(name)) {
        repeated.add(name);
        delete fields[name];
      } else fields[name] = value;
    }
  } catch (err) {
    throw multipartProblem(err, spec);
  }
  for (const name of repeated) errors.push({ field: name, message: 'is given more than once' });
  if (!fileSeen && !errors.some((e) => e.field === spec.fileField)) errors.push({ field: spec.fileField, message: 'is required (a video file with audio)' });
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

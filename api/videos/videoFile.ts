// POST /v1/videos/edits and /v1/videos/extensions as the official Python SDK sends them: multipart/form-data with the
// source video as a file part `video` (openai-python takes nothing else there). A file stands for a video of this
// platform when its bytes are exactly one of its MP4s: the mux records each MP4's SHA-256 (Muxed.sha256) and the
// videos read model indexes it, so the upload is hashed as it streams in, never held whole, and looked up once.
// Anything else (another file, an MP4 edited or re-encoded, a video the caller may not use) is a 422.
import { createHash } from 'node:crypto';
import type { FastifyRequest, preHandlerAsyncHookHandler, preValidationAsyncHookHandler } from 'fastify';
// For its FastifyRequest augmentation (isMultipart, parts); the plugin itself is registered in server.ts.
import type { MultipartFile } from '@fastify/multipart';
import { Type } from '@sinclair/typebox';
import { callerOf, hasRole } from '../plugins/auth';
import { ProblemError } from '../plugins/errors';
import type { VideoReadModel } from './readModel';
import { fileTooLarge, readForm, type FilePartSpec } from './multipart';
import { invalidParams } from './params';

/** The largest upload hashed: well above any MP4 the platform makes (20 s at 1792x1024 is tens of MB). */
export const VIDEO_FILE_MAX_BYTES = 512 * 1024 * 1024;
export const VIDEO_FILE_FIELD = 'video';
const FILE: FilePartSpec = { field: VIDEO_FILE_FIELD, maxBytes: VIDEO_FILE_MAX_BYTES, tooLargeCode: 'video_file_too_large' };

/**
 * The official Node SDK sends `video: {id}` in a form as the text field `video[id]` (its nested-object encoding); the
 * form's body keeps it under that name for the schema check, and resolveVideoFile makes it `video: {id}`, as in JSON.
 */
export const VIDEO_ID_FIELD = `${VIDEO_FILE_FIELD}[id]`;

/** The `video` part of the forms' schemas (OpenAPI: a file upload). */
export const VideoFilePart = Type.String({
  format: 'binary',
  description: 'An MP4 this platform made, unchanged (as GET /v1/videos/{id}/content gives it): it stands for that video, found by the SHA-256 of its bytes',
});

/** The `video[id]` part of the forms' schemas: the source named by id, the Node SDK's form of `video: {id}`. */
export const VideoIdPart = Type.String({ description: 'The completed source video, `video_...` (what the openai Node SDK sends for `video: {id}`)' });

/** A form names its source: the file `video`, or the text field `video[id]`; given both, they must be one video. */
export const ONE_SOURCE = { anyOf: [{ required: [VIDEO_FILE_FIELD] }, { required: [VIDEO_ID_FIELD] }] };

/** What the form's file was: its bytes' SHA-256 (hex) and size. */
interface UploadedFile {
  sha256: string;
  bytes: number;
}

const uploads = new WeakMap<FastifyRequest, UploadedFile>();

function mediaTypeOf(request: FastifyRequest): string | undefined {
  return request.headers['content-type']?.split(';')[0]?.trim().toLowerCase() || undefined;
}

/** Hashes the file part as it streams in; past the limit, a 413. */
async function hashFile(part: MultipartFile): Promise<UploadedFile> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const piece of part.file) {
    hash.update(piece as Buffer);
    bytes += (piece as Buffer).length;
  }
  if (part.file.truncated) throw fileTooLarge(FILE);
  return { sha256: hash.digest('hex'), bytes };
}

/**
 * preValidation of a route taking JSON or a form: a form becomes the body its schema describes (the text fields, and
 * `video` standing for the file, whose hash is kept for resolveVideoFile), so one schema check covers the fields of
 * both. Any other content type is 415, and no body at all a 400, rather than a handler reading a body it lacks.
 */
export function readVideoForm(textFields: readonly string[]): preValidationAsyncHookHandler {
  return async (request) => {
    const type = mediaTypeOf(request);
    if (request.isMultipart()) {
      const form = await readForm(request, { ...FILE, textFields: [...textFields, VIDEO_ID_FIELD], readFile: hashFile });
      if (form.errors.length > 0) throw invalidParams(form.errors);
      const { [VIDEO_ID_FIELD]: sourceId, ...fields } = form.fields;
      if (form.file) uploads.set(request, form.file);
      request.body = {
        ...fields,
        ...(form.file ? { [FILE.field]: `sha256:${form.file.sha256}` } : {}),
        ...(sourceId !== undefined ? { [VIDEO_ID_FIELD]: sourceId } : {}),
      };
      return;
    }
    if (type !== undefined && type !== 'application/json') {
      throw new ProblemError({
        status: 415,
        code: 'unsupported_media_type',
        detail: `Content-Type "${type}" is not accepted here: send application/json, or multipart/form-data with the video as a file`,
        errors: [{ field: 'Content-Type', message: 'must be application/json or multipart/form-data' }],
      });
    }
    if (request.body === undefined || request.body === null)
      throw invalidParams([{ field: 'body', message: 'is required: a JSON object, or a multipart form' }]);
  };
}

/**
 * preHandler: the form's file becomes `{id}` of the video it is, for the handler as the JSON form gives it: the
 * caller's own video first, else a published one (an admin's, any). A file that is none of these is a 422.
 */
export function resolveVideoFile(readModel: Pick<VideoReadModel, 'findByContent'>): preHandlerAsyncHookHandler {
  return async (request) => {
    const file = uploads.get(request);
    const body = request.body as Record<string, unknown>;
    if (!file) {
      if (typeof body?.[VIDEO_ID_FIELD] === 'string') {
        body.video = { id: body[VIDEO_ID_FIELD] };
        delete body[VIDEO_ID_FIELD];
      }
      return;
    }
    const caller = callerOf(request);
    const id = await readModel.findByContent(file.sha256, { ownerId: caller.id, anyOwner: hasRole(caller, 'admin') });
    const named = body[VIDEO_ID_FIELD];
    delete body[VIDEO_ID_FIELD];
    if (id && typeof named === 'string' && named !== id) {
      const message = `the uploaded file is the video ${id}, not ${JSON.stringify(named)} as ${VIDEO_ID_FIELD} says: send one of the two`;
      throw new ProblemError({ status: 422, code: 'video_file_mismatch', detail: `video: ${message}`, errors: [{ field: FILE.field, message }] });
    }
    if (!id) {
      const message =
        `the uploaded file (${file.bytes} bytes, SHA-256 ${file.sha256}) is not a completed video of this platform that you may use: ` +
        'send an MP4 exactly as GET /v1/videos/{id}/content gave it, or {"video": {"id": "video_..."}} as JSON';
      throw new ProblemError({ status: 422, code: 'unknown_video_file', detail: `video: ${message}`, errors: [{ field: FILE.field, message }] });
    }
    (request.body as { video: unknown }).video = { id };
  };
}

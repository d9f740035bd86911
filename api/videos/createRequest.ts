// Reads a POST /v1/videos request, JSON or multipart (the SDKs' form), into raw fields and the input_reference image,
// which is checked by its bytes (PNG or JPEG signature), never its name or declared type, and bounded in size.
import type { FastifyRequest } from 'fastify';
// For its FastifyRequest augmentation (isMultipart, parts); the plugin itself is registered in server.ts.
import type {} from '@fastify/multipart';
import { contentRefusal } from '../plugins/errors';
import { fileTooLarge, multipartProblem } from './multipart';
import { invalidParams, type FieldError, type RawCreateRequest } from './params';

export interface CreateRequest {
  raw: RawCreateRequest;
  /** The image bytes, already checked to be a PNG or a JPEG. */
  inputReference: Buffer | undefined;
  /** What is wrong with the image, reported together with the other fields' errors. */
  errors: FieldError[];
}

/** A refusal of the image that is reported beside the other fields' errors rather than alone. */
class ImageRefused extends Error {
  constructor(readonly fieldError: FieldError) {
    super(fieldError.message);
  }
}

export type ImageType = 'image/png' | 'image/jpeg';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The image type its first bytes prove, or undefined. */
export function sniffImage(bytes: Buffer): ImageType | undefined {
  if (bytes.length >= PNG_SIGNATURE.length && bytes.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)) return 'image/png';
  // SOI marker, then the first segment's marker byte.
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  return undefined;
}

/** `content` for bytes that are no image (422 when nothing else is wrong); else 400. */
function refuseImage(message: string, kind: 'form' | 'content' = 'form'): Error {
  return new ImageRefused(kind === 'content' ? contentRefusal('input_reference', message) : { field: 'input_reference', message });
}

const imageFile = (maxBytes: number) => ({ field: 'input_reference', maxBytes, tooLargeCode: 'input_reference_too_large' });

function checkImage(bytes: Buffer, maxBytes: number): Buffer {
  if (bytes.length === 0) throw refuseImage('is empty', 'content');
  if (bytes.length > maxBytes) throw fileTooLarge(imageFile(maxBytes));
  if (!sniffImage(bytes)) throw refuseImage('must be a PNG or JPEG image', 'content');
  return bytes;
}

/** `data:image/png;base64,...`: the only URL form taken, since the server fetches nothing from the network. */
function imageFromDataUrl(value: unknown, maxBytes: number): Buffer {
  if (typeof value !== 'string') throw refuseImage('image_url must be a string');
  const match = /^data:([a-z]+\/[a-z0-9.+-]+)?(;[^,]*)?;base64,([A-Za-z0-9+/=\s]*)$/i.exec(value);
  if (!match) throw refuseImage('image_url must be a base64 data URL (data:image/png;base64,...); images are not fetched from other URLs');
  // Decoded size is about 3/4 of the text; refuse early what cannot fit rather than decode it.
  if ((match[3]!.length * 3) / 4 > maxBytes + 4) throw fileTooLarge(imageFile(maxBytes));
  return checkImage(Buffer.from(match[3]!, 'base64'), maxBytes);
}

/** The JSON body's `input_reference`: `{image_url: <data URL>}` as the OpenAI API's ImageInputReferenceParam. */
function jsonInputReference(value: unknown, maxBytes: number): Buffer | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value))
    throw refuseImage('must be an object {"image_url": "data:image/...;base64,..."}, or a file in a multipart request');
  const ref = value as Record<string, unknown>;
  if (ref.file_id !== undefined) throw refuseImage('file_id references are not supported; send the image as a multipart file or a data URL');
  const extra = Object.keys(ref).filter((k) => k !== 'image_url');
  if (extra.length > 0) throw refuseImage(`unknown property ${extra[0]}`);
  if (ref.image_url === undefined) throw refuseImage('image_url is required');
  return imageFromDataUrl(ref.image_url, maxBytes);
}

/** Runs an image check, turning a refusal into a field error kept for the combined 400. */
function collect(errors: FieldError[], check: () => Buffer | undefined): Buffer | undefined {
  try {
    return check();
  } catch (err) {
    if (err instanceof ImageRefused) {
      errors.push(err.fieldError);
      return undefined;
    }
    throw err;
  }
}

async function readMultipart(request: FastifyRequest, maxBytes: number): Promise<CreateRequest> {
  const fields: Record<string, unknown> = {};
  const errors: FieldError[] = [];
  let inputReference: Buffer | undefined;
  let imageUrl: unknown;
  let files = 0;
  const add = (name: string, value: string) => {
    // The SDKs send arrays as repeated `name[]` fields.
    const key = name.endsWith('[]') ? name.slice(0, -2) : name;
    const had = fields[key];
    if (name.endsWith('[]')) fields[key] = [...(Array.isArray(had) ? had : had === undefined ? [] : [had]), value];
    else fields[key] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
  };
  try {
    for await (const part of request.parts({ limits: { fileSize: maxBytes, files: 1 } })) {
      if (part.type === 'file') {
        files++;
        if (part.fieldname !== 'input_reference') {
          part.file.resume();
          errors.push({ field: part.fieldname, message: 'is not a file parameter of this endpoint (only input_reference is)' });
          continue;
        }
        // toBuffer throws FST_REQ_FILE_TOO_LARGE past the limit, so an oversized upload is never held whole.
        const bytes = await part.toBuffer();
        inputReference = collect(errors, () => checkImage(bytes, maxBytes));
        continue;
      }
      const value = typeof part.value === 'string' ? part.value : String(part.value);
      if (part.valueTruncated) errors.push({ field: part.fieldname, message: 'is too long' });
      else if (part.fieldname === 'input_reference[image_url]') imageUrl = value;
      else if (part.fieldname === 'input_reference[file_id]')
        errors.push({ field: 'input_reference', message: 'file_id references are not supported; send the image as a file' });
      else add(part.fieldname, value);
    }
  } catch (err) {
    throw multipartProblem(err, imageFile(maxBytes));
  }
  if (imageUrl !== undefined) {
    if (files > 0) errors.push({ field: 'input_reference', message: 'is given both as a file and as an image_url' });
    else inputReference = collect(errors, () => imageFromDataUrl(imageUrl, maxBytes));
  }
  if (typeof fields.input_reference === 'string' || Array.isArray(fields.input_reference)) {
    errors.push({ field: 'input_reference', message: 'must be sent as a file part (with a filename), not as a text field' });
    delete fields.input_reference;
  }
  return { raw: { source: 'multipart', fields }, inputReference, errors };
}

/** The request's fields and image; a body that is no object, or a form that cannot be read, is a 400 naming `body`. */
export async function readCreateRequest(request: FastifyRequest, options: { inputReferenceMaxBytes: number }): Promise<CreateRequest> {
  if (request.isMultipart()) return readMultipart(request, options.inputReferenceMaxBytes);
  const body = request.body;
  if (body === undefined || body === null) throw invalidParams([{ field: 'prompt', message: 'is required' }]);
  if (typeof body !== 'object' || Array.isArray(body)) throw invalidParams([{ field: 'body', message: 'must be a JSON object' }]);
  const fields = { ...(body as Record<string, unknown>) };
  const errors: FieldError[] = [];
  const inputReference = collect(errors, () => jsonInputReference(fields.input_reference, options.inputReferenceMaxBytes));
  return { raw: { source: 'json', fields }, inputReference, errors };
}

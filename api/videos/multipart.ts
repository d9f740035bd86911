// Reading a multipart/form-data request part by part (request.parts()), bounded while it streams in: a few text fields,
// each given once, and one file part; and what a form that went wrong is told (@fastify/multipart's and busboy's
// errors, by code, as problems naming the file or the form). Shared by every route that takes a form.
import type { FastifyRequest } from 'fastify';
// For its FastifyRequest augmentation (isMultipart, parts); the plugin itself is registered in server.ts.
import type { MultipartFile } from '@fastify/multipart';
import { ProblemError } from '../plugins/errors';
import { invalidParams, type FieldError } from './params';

export interface FilePartSpec {
  /** The file part's name (`input_reference`, `recording`, `video`). */
  field: string;
  maxBytes: number;
  /** The problem code of a file over `maxBytes` (`recording_too_large`...). */
  tooLargeCode: string;
}

/** The 413 of a file over its limit. */
export function fileTooLarge(spec: FilePartSpec): ProblemError {
  const message = `is larger than ${spec.maxBytes} bytes`;
  return new ProblemError({ status: 413, code: spec.tooLargeCode, detail: `${spec.field}: ${message}`, errors: [{ field: spec.field, message }] });
}

/** The problem for an error thrown while reading a form; anything that is not the form's fault is returned as it is. */
export function multipartProblem(err: unknown, spec: FilePartSpec): unknown {
  const code = (err as { code?: string })?.code;
  if (code === 'FST_REQ_FILE_TOO_LARGE') return fileTooLarge(spec);
  if (code === 'FST_FILES_LIMIT') {
    return new ProblemError({
      status: 413,
      code: 'too_many_files',
      detail: 'only one file may be sent',
      errors: [{ field: spec.field, message: 'only one file may be sent' }],
    });
  }
  if (code === 'FST_FIELDS_LIMIT' || code === 'FST_PARTS_LIMIT') {
    return new ProblemError({
      status: 413,
      code: 'too_many_fields',
      detail: 'the form has too many fields',
      errors: [{ field: 'body', message: 'has too many fields' }],
    });
  }
  if (code === 'FST_PROTO_VIOLATION') return invalidParams([{ field: 'body', message: 'a field name is not allowed' }]);
  if (code === 'FST_MP_PREMATURE_CLOSE') return invalidParams([{ field: 'body', message: 'the form ended before it was complete' }]);
  // busboy's own parse failures ("Unexpected end of form", a missing boundary): the body is malformed, not the server.
  if (
    err instanceof Error &&
    !(err instanceof ProblemError) &&
    (code === undefined || /^(FST_|ERR_)/.test(code)) &&
    /form|boundary|multipart|part/i.test(err.message)
  ) {
    return invalidParams([{ field: 'body', message: `is not a well-formed multipart form: ${err.message}` }]);
  }
  return err;
}

export interface FormSpec<T> extends FilePartSpec {
  /** The text fields the form may hold; any other is an error naming it. */
  textFields: readonly string[];
  /** Consumes the file part (it must read the stream to its end, or throw). */
  readFile(part: MultipartFile): Promise<T>;
}

export interface Form<T> {
  /** Text fields given once; a repeated or unknown field is in `errors` instead. */
  fields: Record<string, string>;
  /** What readFile made of the file part, when one was sent under the file field's name. */
  file: T | undefined;
  errors: FieldError[];
}

export async function readForm<T>(request: FastifyRequest, spec: FormSpec<T>): Promise<Form<T>> {
  const fields: Record<string, string> = {};
  const repeated = new Set<string>();
  const errors: FieldError[] = [];
  let file: T | undefined;
  try {
    for await (const part of request.parts({ limits: { fileSize: spec.maxBytes, files: 1 } })) {
      if (part.type === 'file') {
        if (part.fieldname !== spec.field) {
          part.file.resume();
          errors.push({ field: part.fieldname, message: `is not a file parameter of this endpoint (only ${spec.field} is)` });
          continue;
        }
        file = await spec.readFile(part);
        continue;
      }
      const name = part.fieldname;
      if (name === spec.field) errors.push({ field: name, message: 'must be sent as a file part (with a filename), not as a text field' });
      else if (!spec.textFields.includes(name)) errors.push({ field: name, message: 'is not a parameter of this endpoint' });
      else if (part.valueTruncated) errors.push({ field: name, message: 'is too long' });
      else if (name in fields || repeated.has(name)) {
        repeated.add(name);
        delete fields[name];
      } else fields[name] = typeof part.value === 'string' ? part.value : String(part.value);
    }
  } catch (err) {
    throw multipartProblem(err, spec);
  }
  for (const name of repeated) errors.push({ field: name, message: 'is given more than once' });
  return { fields, file, errors };
}

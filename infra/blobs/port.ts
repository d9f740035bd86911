// The blob store port: opaque bytes under slash-separated keys (video segments, audio, thumbnails, uploads). The
// filesystem adapter is the embedded default; the S3 adapter (infra/blobs/s3.ts) implements the same interface, and
// test/infra/blobs.test.ts is the one contract suite both pass.
import type { Readable } from 'node:stream';

export interface BlobInfo {
  key: string;
  bytes: number;
  modifiedAt: Date;
}

export interface BlobStore {
  /** Writes all of `data` under `key`, replacing what was there; readers see the old blob or the new one, never a part. */
  put(key: string, data: Uint8Array | Readable): Promise<BlobInfo>;
  /** The whole blob; BlobNotFound when there is none. */
  get(key: string): Promise<Buffer>;
  /** A byte range (inclusive `end`, as HTTP Range has it) or the whole blob, streamed; BlobNotFound when there is none. */
  stream(key: string, range?: { start: number; end?: number }): Promise<Readable>;
  /** Size and time of a blob, or undefined. */
  stat(key: string): Promise<BlobInfo | undefined>;
  exists(key: string): Promise<boolean>;
  /** True when something was deleted. */
  delete(key: string): Promise<boolean>;
  /** Every key under `prefix` (a whole number of key segments, e.g. `videos/video_1/`), sorted. */
  list(prefix: string): Promise<string[]>;
  /** Deletes every blob under `prefix` (a video and all its files); returns how many. */
  deletePrefix(prefix: string): Promise<number>;
  /** A URL clients can GET `key` from without us, valid for `expiresInSeconds`: only stores that serve HTTP (S3) have one. */
  signedUrl?(key: string, expiresInSeconds: number): Promise<string>;
}

/** A key segment: starts with a letter or digit (so no "." / ".." and no hidden names), then letters, digits, . _ - */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const MAX_KEY_LENGTH = 512;

export class BlobStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidBlobKey extends BlobStoreError {
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`invalid blob key ${JSON.stringify(key)}: ${reason}`);
  }
}

export class BlobNotFound extends BlobStoreError {
  constructor(readonly key: string) {
    super(`blob ${JSON.stringify(key)} not found`);
  }
}

/**
 * The store did not answer, or answered that it cannot serve now (a network error, a timeout, a 5xx, throttling). It
 * says nothing about the blob: an activity that meets it fails and is retried by Temporal (it is deliberately not one
 * of the errors the activities turn non-retryable, as they do BlobNotFound), and whatever the activity would have
 * recorded is recorded only once a later attempt has stored the blob.
 */
export class BlobStoreUnavailable extends BlobStoreError {
  constructor(
    readonly store: string,
    readonly operation: string,
    readonly key: string,
    cause: unknown,
  ) {
    super(`blob store ${store} unavailable (${operation} ${JSON.stringify(key)}): ${(cause as Error)?.message ?? String(cause)}`);
    this.cause = cause;
  }
}

/** Keys are the same on every adapter, so the rules live in the port: a key that works here works on S3 too. */
export function checkKey(key: string): string[] {
  if (typeof key !== 'string' || key === '') throw new InvalidBlobKey(String(key), 'empty');
  if (key.length > MAX_KEY_LENGTH) throw new InvalidBlobKey(key, `longer than ${MAX_KEY_LENGTH} characters`);
  if (key.startsWith('/') || /^[A-Za-z]:/.test(key))
    throw new InvalidBlobKey(key, 'absolute paths are not keys; use a relative key like videos/<id>/chunks/000.ts');
  if (key.includes('\\')) throw new InvalidBlobKey(key, 'use "/" between segments, not "\\"');
  const segments = key.split('/');
  for (const segment of segments) {
    if (segment === '') throw new InvalidBlobKey(key, 'empty segment (a leading, trailing or doubled "/")');
    if (segment === '.' || segment === '..') throw new InvalidBlobKey(key, `"${segment}" segments are not allowed`);
    if (!SEGMENT.test(segment)) {
      throw new InvalidBlobKey(
        key,
        `segment ${JSON.stringify(segment)} must start with a letter or digit and hold only letters, digits, ".", "_" and "-" (at most 128)`,
      );
    }
  }
  return segments;
}

/** A range as `stream` takes it: whole non-negative offsets, `end` (inclusive) not before `start`. */
export function checkRange(key: string, range: { start: number; end?: number }): void {
  if (!Number.isInteger(range.start) || range.start < 0 || (range.end !== undefined && (!Number.isInteger(range.end) || range.end < range.start))) {
    throw new RangeError(`blob ${key}: bad range ${JSON.stringify(range)}`);
  }
}

/** A list prefix: empty (everything), or whole segments, optionally ending in "/". */
export function checkPrefix(prefix: string): string[] {
  if (prefix === '') return [];
  return checkKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}

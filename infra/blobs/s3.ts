// The S3 blob store (BLOB_URL=s3://bucket/prefix): Amazon S3 or any S3-compatible store (MinIO, Ceph RGW, R2, ...)
// through the AWS SDK v3. A key is an object key under the prefix. Writes go through lib-storage's Upload: one PutObject
// for a small blob, a multipart upload (parts of `partSize` bytes, aborted when the source fails) for a large one, so a
// stream of any size is written without holding it whole; S3 makes an object visible only once complete, so readers
// see the old blob or the new one, never a part. Ranged reads are ranged GETs whose bodies are streamed through.
import { Readable } from 'node:stream';
import { DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, paginateListObjectsV2, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { BlobNotFound, BlobStoreError, BlobStoreUnavailable, checkKey, checkPrefix, checkRange, type BlobInfo, type BlobStore } from './port';

/** Where the blobs live: a bucket, and a key prefix inside it (whole segments, no leading or trailing "/"; "" for none). */
export interface S3BlobLocation {
  bucket: string;
  prefix: string;
}

/** How to reach the store; what is undefined is left to the SDK's defaults (credentials: its default provider chain). */
export interface S3ClientSettings {
  region: string | undefined;
  /** An S3-compatible store's endpoint (AWS_ENDPOINT_URL_S3); requests then use path-style addressing. */
  endpoint: string | undefined;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
}

/** S3's smallest part but the last; lib-storage's default too. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

export function createS3Client(settings: S3ClientSettings): S3Client {
  return new S3Client({
    region: settings.region,
    endpoint: settings.endpoint,
    // MinIO and Ceph RGW serve buckets under the path, not as host names; R2 and AWS accept both.
    forcePathStyle: settings.endpoint !== undefined,
    credentials: settings.credentials,
    // The SDK retries throttling, 5xx and network errors itself (3 attempts) before an error reaches the caller, who
    // sees BlobStoreUnavailable and is retried by Temporal.
    maxAttempts: 3,
    requestHandler: {
      // An unreachable host fails in seconds rather than at the OS's TCP timeout. No socket timeout: a content
      // download streams at the pace of its client, and a paused body is not a dead one.
      connectionTimeout: 5_000,
      // Each streamed download holds a connection while it lasts; the SDK's default of 50 would queue the 51st viewer.
      httpAgent: { keepAlive: true, maxSockets: 256 },
      httpsAgent: { keepAlive: true, maxSockets: 256 },
    },
  });
}

export class S3BlobStore implements BlobStore {
  /** s3://bucket/prefix, for messages. */
  readonly name: string;
  private readonly base: string;

  constructor(
    readonly client: S3Client,
    readonly location: S3BlobLocation,
    private readonly options: { partSize?: number; queueSize?: number } = {},
  ) {
    if (location.prefix !== '') checkPrefix(location.prefix);
    this.base = location.prefix === '' ? '' : `${location.prefix}/`;
    this.name = `s3://${location.bucket}/${location.prefix}`;
  }

  private objectKey(key: string): string {
    checkKey(key);
    return this.base + key;
  }

  async put(key: string, data: Uint8Array | Readable): Promise<BlobInfo> {
    const Key = this.objectKey(key);
    try {
      await new Upload({
        client: this.client,
        params: { Bucket: this.location.bucket, Key, Body: data },
        partSize: this.options.partSize ?? MIN_PART_SIZE,
        queueSize: this.options.queueSize ?? 4,
        leavePartsOnError: false,
      }).done();
    } catch (err) {
      throw this.failure(err, 'put', key);
    }
    const info = await this.stat(key);
    // Only a delete racing this put can get here; the filesystem adapter's stat after its rename fails the same way.
    if (!info) throw new BlobNotFound(key);
    return info;
  }

  async get(key: string): Promise<Buffer> {
    const body = await this.stream(key);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of body) chunks.push(chunk as Buffer);
    } catch (err) {
      throw new BlobStoreUnavailable(this.name, 'get', key, err);
    }
    return Buffer.concat(chunks);
  }

  async stream(key: string, range?: { start: number; end?: number }): Promise<Readable> {
    const Key = this.objectKey(key);
    if (range) checkRange(key, range);
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.location.bucket, Key, Range: range ? `bytes=${range.start}-${range.end ?? ''}` : undefined }),
      );
      return (out.Body as Readable | undefined) ?? Readable.from([]);
    } catch (err) {
      // A range that starts past the end: nothing, as a file read past its end gives (416 says the object exists).
      if (range && statusOf(err) === 416) return Readable.from([]);
      throw this.failure(err, 'get', key);
    }
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const Key = this.objectKey(key);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key }));
      return { key, bytes: head.ContentLength ?? 0, modifiedAt: head.LastModified ?? new Date(0) };
    } catch (err) {
      const failure = this.failure(err, 'stat', key);
      if (failure instanceof BlobNotFound) return undefined;
      throw failure;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== undefined;
  }

  async delete(key: string): Promise<boolean> {
    // DeleteObject succeeds whether or not there was an object: ask first, to say which.
    if (!(await this.stat(key))) return false;
    return (await this.deleteObjects([key])) === 1;
  }

  async list(prefix: string): Promise<string[]> {
    checkPrefix(prefix);
    const keys: string[] = [];
    try {
      for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.location.bucket, Prefix: this.base + prefix })) {
        for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key.slice(this.base.length));
      }
    } catch (err) {
      throw this.failure(err, 'list', prefix);
    }
    return keys.sort();
  }

  async deletePrefix(prefix: string): Promise<number> {
    if (checkPrefix(prefix).length === 0) throw new RangeError('deletePrefix needs a non-empty prefix; it will not empty the whole store');
    return this.deleteObjects(await this.list(prefix));
  }

  /** A GET URL of `key` signed for `expiresInSeconds`, for clients to download from the store itself. */
  async signedUrl(key: string, expiresInSeconds: number): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(key) }), { expiresIn: expiresInSeconds });
  }

  /** DeleteObjects in batches of S3's limit of 1000; returns how many were deleted. */
  private async deleteObjects(keys: readonly string[]): Promise<number> {
    let deleted = 0;
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      try {
        const out = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.location.bucket, Delete: { Objects: batch.map((k) => ({ Key: this.objectKey(k) })), Quiet: true } }),
        );
        const failed = out.Errors ?? [];
        if (failed.length > 0) {
          const first = failed[0]!;
          throw new BlobStoreError(
            `blob store ${this.name}: ${failed.length} of ${batch.length} deletes failed, e.g. ${first.Key}: ${first.Code} ${first.Message}`,
          );
        }
        deleted += batch.length;
      } catch (err) {
        throw this.failure(err, 'delete', batch[0]!);
      }
    }
    return deleted;
  }

  /**
   * What an SDK error means to callers: a missing object is BlobNotFound; no answer, a 5xx or throttling is
   * BlobStoreUnavailable (retried); any other answer of the store (403, a missing bucket, ...) is a BlobStoreError that
   * names it. Errors that did not come from a request (a failing source stream) pass through unchanged.
   */
  private failure(err: unknown, operation: string, key: string): unknown {
    if (err instanceof BlobStoreError || !isSdkError(err)) return err;
    const status = statusOf(err);
    if (err.name === 'NoSuchKey' || (err.name === 'NotFound' && status === 404)) return new BlobNotFound(key);
    if (status === undefined || status >= 500 || status === 429 || err.name === 'TimeoutError') return new BlobStoreUnavailable(this.name, operation, key, err);
    const failure = new BlobStoreError(`blob store ${this.name}: ${operation} ${JSON.stringify(key)} failed: ${err.name} (HTTP ${status}): ${err.message}`);
    failure.cause = err;
    return failure;
  }
}

interface SdkError extends Error {
  $metadata: { httpStatusCode?: number };
}

/** Errors out of the SDK's request pipeline carry $metadata (with the HTTP status when the store answered). */
function isSdkError(err: unknown): err is SdkError {
  return err instanceof Error && typeof (err as Partial<SdkError>).$metadata === 'object';
}

function statusOf(err: unknown): number | undefined {
  return isSdkError(err) ? err.$metadata.httpStatusCode : undefined;
}

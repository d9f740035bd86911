// Picks the blob store BLOB_URL names: the filesystem (file://..., by default $DATA_DIR/blobs) or S3 (s3://bucket/prefix).
import type { Config } from '../config';
import { FsBlobStore } from './filesystem';
import type { BlobStore } from './port';
import { createS3Client, S3BlobStore } from './s3';

export * from './port';
export { FsBlobStore } from './filesystem';
export { withLocalCopy } from './localCopy';
export { createS3Client, S3BlobStore } from './s3';

export function createBlobStore(config: Pick<Config, 'blobs' | 'aws'>): BlobStore {
  const { blobs } = config;
  if (blobs.kind === 'file') return new FsBlobStore(blobs.root);
  return new S3BlobStore(createS3Client(config.aws), { bucket: blobs.bucket, prefix: blobs.prefix });
}

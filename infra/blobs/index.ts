// Picks the blob store: the filesystem under $DATA_DIR/blobs (the only adapter so far; S3 would be chosen here).
import path from 'node:path';
import type { Config } from '../config';
import { FsBlobStore } from './filesystem';
import type { BlobStore } from './port';

export * from './port';
export { FsBlobStore } from './filesystem';

export function createBlobStore(config: Pick<Config, 'dataDir'>): BlobStore {
  return new FsBlobStore(path.join(config.dataDir, 'blobs'));
}

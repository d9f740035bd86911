// A blob as a local file for the tools that read files (ffmpeg, the C2PA reader): copied to a temporary folder,
// removed afterwards.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BlobStore } from './port';

/** Copies a blob to a temporary file named as the key's last part, runs `use` on it, and removes it. */
export async function withLocalCopy<T>(blobs: BlobStore, key: string, use: (file: string) => Promise<T>): Promise<T> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'reelforge-blob-'));
  const file = path.join(dir, path.basename(key));
  try {
    await pipeline(await blobs.stream(key), fs.createWriteStream(file));
    return await use(file);
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

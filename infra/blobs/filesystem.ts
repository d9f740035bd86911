// The filesystem blob store under $DATA_DIR/blobs: a key is a relative path; writes go to a temporary file in the same
// filesystem and are renamed into place, so a crash or a concurrent reader never sees half a blob.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobNotFound, checkKey, checkPrefix, checkRange, type BlobInfo, type BlobStore } from './port';

/** Temporary files live here: inside the root, so rename stays on one filesystem; its leading dot keeps it out of the key space. */
const TMP_DIR = '.tmp';

export class FsBlobStore implements BlobStore {
  constructor(readonly root: string) {}

  private pathOf(key: string): string {
    return path.join(this.root, ...checkKey(key));
  }

  async put(key: string, data: Uint8Array | Readable): Promise<BlobInfo> {
    const target = this.pathOf(key);
    const tmpDir = path.join(this.root, TMP_DIR);
    await fsp.mkdir(tmpDir, { recursive: true });
    await fsp.mkdir(path.dirname(target), { recursive: true });
    const tmp = path.join(tmpDir, `${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}`);
    try {
      // flush: fsync before close, so the blob is durable before it becomes visible (a power cut must not leave a
      // renamed but empty segment).
      if (data instanceof Uint8Array) await fsp.writeFile(tmp, data, { flag: 'wx', mode: 0o644, flush: true });
      else await pipeline(data, fs.createWriteStream(tmp, { flags: 'wx', mode: 0o644, flush: true }));
      await fsp.rename(tmp, target).catch(async (err: NodeJS.ErrnoException) => {
        // A concurrent delete may have pruned the (then empty) folder between mkdir and rename: make it again, once.
        if (err.code !== 'ENOENT') throw err;
        await fsp.mkdir(path.dirname(target), { recursive: true });
        await fsp.rename(tmp, target);
      });
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    const st = await fsp.stat(target);
    return { key, bytes: st.size, modifiedAt: st.mtime };
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await fsp.readFile(this.pathOf(key));
    } catch (err) {
      throw notFound(err, key);
    }
  }

  async stream(key: string, range?: { start: number; end?: number }): Promise<Readable> {
    const file = this.pathOf(key);
    // Opened before returning, so a missing blob is a rejected promise rather than a late 'error' event on the stream.
    const handle = await fsp.open(file, 'r').catch((err: unknown) => {
      throw notFound(err, key);
    });
    if (range) {
      try {
        checkRange(key, range);
      } catch (err) {
        await handle.close();
        throw err;
      }
    }
    return handle.createReadStream({ start: range?.start, end: range?.end });
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    try {
      const st = await fsp.stat(this.pathOf(key));
      return st.isFile() ? { key, bytes: st.size, modifiedAt: st.mtime } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== undefined;
  }

  async delete(key: string): Promise<boolean> {
    const file = this.pathOf(key);
    try {
      await fsp.unlink(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return false;
      throw err;
    }
    await this.pruneEmptyDirs(path.dirname(file));
    return true;
  }

  async list(prefix: string): Promise<string[]> {
    const segments = checkPrefix(prefix);
    const keys: string[] = [];
    // A prefix may end inside a segment ("videos/video_1/chunks/00"): walk from its last whole folder and filter.
    const wholeFolder = prefix === '' || prefix.endsWith('/') ? segments : segments.slice(0, -1);
    await this.walk(path.join(this.root, ...wholeFolder), wholeFolder.join('/'), keys);
    return keys.filter((k) => k.startsWith(prefix)).sort();
  }

  async deletePrefix(prefix: string): Promise<number> {
    if (checkPrefix(prefix).length === 0) throw new RangeError('deletePrefix needs a non-empty prefix; it will not empty the whole store');
    const keys = await this.list(prefix);
    let deleted = 0;
    for (const key of keys) if (await this.delete(key)) deleted++;
    return deleted;
  }

  private async walk(dir: string, keyPrefix: string, out: string[]): Promise<void> {
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw err;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue; // the temp folder, never a key
      const key = keyPrefix === '' ? entry.name : `${keyPrefix}/${entry.name}`;
      if (entry.isDirectory()) await this.walk(path.join(dir, entry.name), key, out);
      else if (entry.isFile()) out.push(key);
    }
  }

  /** Removes folders left empty up to the root, so a deleted video leaves no trace in the tree. */
  private async pruneEmptyDirs(dir: string): Promise<void> {
    const root = path.resolve(this.root);
    for (let d = path.resolve(dir); d.startsWith(root + path.sep); d = path.dirname(d)) {
      try {
        await fsp.rmdir(d);
      } catch {
        return; // not empty (or already gone): stop
      }
    }
  }
}

function notFound(err: unknown, key: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' ? new BlobNotFound(key) : err;
}

// The filesystem blob store: atomic writes, reads, ranges, listing by prefix, deletes, and keys that cannot escape.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { BlobNotFound, createBlobStore, FsBlobStore, InvalidBlobKey, type BlobStore } from '../../infra/blobs';

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('filesystem blob store', () => {
  let root: string;
  let blobs: BlobStore;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-blobs-'));
    blobs = new FsBlobStore(root);
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('lives under $DATA_DIR/blobs', () => {
    const store = createBlobStore({ dataDir: root }) as FsBlobStore;
    expect(store.root).toBe(path.join(root, 'blobs'));
  });

  it('stores bytes and streams under a key and reads them back', async () => {
    const info = await blobs.put('videos/video_1/chunks/000.ts', Buffer.from('segment zero'));
    expect(info).toMatchObject({ key: 'videos/video_1/chunks/000.ts', bytes: 12 });
    await blobs.put('videos/video_1/chunks/001.ts', Readable.from([Buffer.from('segment '), Buffer.from('one')]));
    expect((await blobs.get('videos/video_1/chunks/000.ts')).toString()).toBe('segment zero');
    expect((await blobs.get('videos/video_1/chunks/001.ts')).toString()).toBe('segment one');
    expect(fs.readFileSync(path.join(root, 'videos', 'video_1', 'chunks', '001.ts'), 'utf8')).toBe('segment one');
    expect(await blobs.exists('videos/video_1/chunks/001.ts')).toBe(true);
    expect(await blobs.exists('videos/video_1/chunks/002.ts')).toBe(false);
    expect((await blobs.stat('videos/video_1/chunks/001.ts'))?.bytes).toBe(11);
  });

  it('replaces a blob whole and leaves no temporary files behind', async () => {
    await blobs.put('a/b.bin', Buffer.alloc(100_000, 1));
    await blobs.put('a/b.bin', Buffer.from('short'));
    expect((await blobs.get('a/b.bin')).toString()).toBe('short');
    expect(fs.readdirSync(path.join(root, '.tmp'))).toEqual([]);
  });

  it('a failing source stream leaves the old blob untouched and no temporary file', async () => {
    await blobs.put('a/b.bin', Buffer.from('old'));
    const failing = new Readable({
      read() {
        this.push(Buffer.from('partial'));
        this.destroy(new Error('source broke'));
      },
    });
    await expect(blobs.put('a/b.bin', failing)).rejects.toThrow('source broke');
    expect((await blobs.get('a/b.bin')).toString()).toBe('old');
    expect(fs.readdirSync(path.join(root, '.tmp'))).toEqual([]);
  });

  it('streams a byte range, inclusive of its end as HTTP Range is', async () => {
    await blobs.put('v/x.mp4', Buffer.from('0123456789'));
    expect(await text(await blobs.stream('v/x.mp4', { start: 2, end: 5 }))).toBe('2345');
    expect(await text(await blobs.stream('v/x.mp4', { start: 7 }))).toBe('789');
    expect(await text(await blobs.stream('v/x.mp4'))).toBe('0123456789');
  });

  it('says which blob is missing', async () => {
    await expect(blobs.get('videos/nope/chunks/000.ts')).rejects.toThrow(BlobNotFound);
    await expect(blobs.get('videos/nope/chunks/000.ts')).rejects.toThrow('blob "videos/nope/chunks/000.ts" not found');
    await expect(blobs.stream('videos/nope')).rejects.toThrow(BlobNotFound);
    expect(await blobs.stat('videos/nope')).toBeUndefined();
  });

  it('lists keys under a prefix in order, and deletes one key or a whole prefix', async () => {
    for (const key of ['videos/v1/chunks/001.ts', 'videos/v1/chunks/000.ts', 'videos/v1/out.mp4', 'videos/v10/out.mp4', 'cameos/c1/face.png']) {
      await blobs.put(key, Buffer.from(key));
    }
    expect(await blobs.list('videos/v1/')).toEqual(['videos/v1/chunks/000.ts', 'videos/v1/chunks/001.ts', 'videos/v1/out.mp4']);
    expect(await blobs.list('videos/v1')).toEqual(['videos/v1/chunks/000.ts', 'videos/v1/chunks/001.ts', 'videos/v1/out.mp4', 'videos/v10/out.mp4']);
    expect(await blobs.list('videos/v1/chunks/00')).toEqual(['videos/v1/chunks/000.ts', 'videos/v1/chunks/001.ts']);
    expect(await blobs.list('')).toHaveLength(5);
    expect(await blobs.list('nothing/here/')).toEqual([]);

    expect(await blobs.delete('videos/v1/out.mp4')).toBe(true);
    expect(await blobs.delete('videos/v1/out.mp4')).toBe(false);
    expect(await blobs.deletePrefix('videos/v1/')).toBe(2);
    expect(fs.existsSync(path.join(root, 'videos', 'v1'))).toBe(false);
    expect(await blobs.list('')).toEqual(['cameos/c1/face.png', 'videos/v10/out.mp4']);
    await expect(blobs.deletePrefix('')).rejects.toThrow('non-empty prefix');
  });

  it.each([
    ['../etc/passwd', '".." segments are not allowed'],
    ['videos/../../x', '".." segments are not allowed'],
    ['/etc/passwd', 'absolute paths are not keys'],
    ['C:/x', 'absolute paths are not keys'],
    ['videos//x', 'empty segment'],
    ['videos/x/', 'empty segment'],
    ['videos\\x', 'use "/" between segments'],
    ['videos/.hidden', 'must start with a letter or digit'],
    ['videos/a b', 'must start with a letter or digit and hold only'],
    ['', 'empty'],
  ])('refuses the key %j: %s', async (key, reason) => {
    await expect(blobs.put(key, Buffer.from('x'))).rejects.toThrow(InvalidBlobKey);
    await expect(blobs.get(key)).rejects.toThrow(reason);
    await expect(blobs.list(`${key}/`)).rejects.toThrow(InvalidBlobKey);
    expect(fs.readdirSync(root).filter((n) => n !== '.tmp')).toEqual([]);
  });
});

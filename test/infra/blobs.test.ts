// The blob store contract, one suite for every adapter: the filesystem, S3 on a real S3-compatible server (moto, from
// the shared harness), and the S3 endpoint S3_TEST_URL names when it is set. Then what only one adapter has: the
// filesystem's temporary files and folders, S3's multipart uploads and presigned URLs, and an S3 store that stops
// answering (a retryable error, nothing half stored, the same operation succeeding once it is back).
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { HeadObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { createCameoVerificationActivities } from '../../activities/cameo/verify';
import {
  BlobNotFound,
  BlobStoreError,
  BlobStoreUnavailable,
  createBlobStore,
  createS3Client,
  FsBlobStore,
  InvalidBlobKey,
  S3BlobStore,
  type BlobStore,
} from '../../infra/blobs';
import { loadConfig } from '../../infra/config';
import { createLogger } from '../../infra/logger';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { cameoTestPhrase, liveCameoClip } from '../support/clips';
import { testEnv } from '../support/env';
import { s3TestTarget, startS3Server, type S3Server, type S3Target } from '../support/s3';

const BUCKET = 'reelforge-contract';
const MiB = 1024 * 1024;

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
const text = async (stream: Readable) => (await bytesOf(stream)).toString();

/** `size` bytes that differ from one offset to the next (so a misplaced part or range shows), made from `seed`. */
function pattern(size: number, seed: number): Buffer {
  const out = Buffer.alloc(Math.ceil(size / 4) * 4);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  return out.subarray(0, size);
}

/** `data` as a stream of `chunk`-byte pieces, as a file or an upload arrives. */
function streamOf(data: Buffer, chunk = 256 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += chunk) yield data.subarray(i, i + chunk);
    })(),
  );
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let moto: S3Server;
const external: S3Target | undefined = s3TestTarget();
const externalClient = external && createS3Client(external.aws);

beforeAll(async () => {
  moto = await startS3Server({ buckets: [BUCKET] });
});
afterAll(async () => {
  externalClient?.destroy();
  await moto?.stop();
});

interface Subject {
  blobs: BlobStore;
  /** Removes what the test left. */
  cleanup(): Promise<void>;
}

/** Each test gets an empty store: a fresh folder, or a fresh key prefix in the bucket. */
const adapters: Array<[string, () => Subject]> = [
  [
    'filesystem',
    () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-blobs-'));
      return { blobs: new FsBlobStore(root), cleanup: async () => fs.rmSync(root, { recursive: true, force: true }) };
    },
  ],
  ['S3 (moto)', () => s3Subject(new S3BlobStore(moto.client(), { bucket: BUCKET, prefix: `contract/${randomUUID()}` }))],
];
if (external && externalClient) {
  adapters.push([
    `S3 (S3_TEST_URL ${testEnv.s3TestUrl})`,
    () =>
      s3Subject(
        new S3BlobStore(externalClient, { bucket: external.bucket, prefix: [external.prefix, `reelforge-contract-${randomUUID()}`].filter(Boolean).join('/') }),
      ),
  ]);
}

/** A store under a prefix of its own, emptied after the test. */
function s3Subject(blobs: S3BlobStore): Subject {
  return {
    blobs,
    cleanup: async () => {
      for (const key of await blobs.list('')) await blobs.delete(key);
    },
  };
}

describe.each(adapters)('blob store contract: %s', (_name, make) => {
  let subject: Subject;
  let blobs: BlobStore;

  beforeEach(() => {
    subject = make();
    blobs = subject.blobs;
  });
  afterEach(() => subject.cleanup());

  it('stores bytes and streams under a key and reads them back', async () => {
    const before = Date.now();
    const info = await blobs.put('videos/video_1/chunks/000.ts', Buffer.from('segment zero'));
    expect(info).toMatchObject({ key: 'videos/video_1/chunks/000.ts', bytes: 12 });
    // S3 keeps whole seconds.
    expect(Math.abs(info.modifiedAt.getTime() - before)).toBeLessThan(60_000);
    await blobs.put('videos/video_1/chunks/001.ts', Readable.from([Buffer.from('segment '), Buffer.from('one')]));
    expect((await blobs.get('videos/video_1/chunks/000.ts')).toString()).toBe('segment zero');
    expect((await blobs.get('videos/video_1/chunks/001.ts')).toString()).toBe('segment one');
    expect(await blobs.exists('videos/video_1/chunks/001.ts')).toBe(true);
    expect(await blobs.exists('videos/video_1/chunks/002.ts')).toBe(false);
    expect(await blobs.stat('videos/video_1/chunks/001.ts')).toMatchObject({ key: 'videos/video_1/chunks/001.ts', bytes: 11 });
  });

  it('stores an empty blob', async () => {
    expect(await blobs.put('a/empty', Buffer.alloc(0))).toMatchObject({ bytes: 0 });
    expect(await blobs.get('a/empty')).toEqual(Buffer.alloc(0));
    expect(await bytesOf(await blobs.stream('a/empty'))).toEqual(Buffer.alloc(0));
  });

  it('replaces a blob whole', async () => {
    await blobs.put('a/b.bin', Buffer.alloc(100_000, 1));
    await blobs.put('a/b.bin', Buffer.from('short'));
    expect((await blobs.get('a/b.bin')).toString()).toBe('short');
    expect((await blobs.stat('a/b.bin'))?.bytes).toBe(5);
  });

  it('a failing source stream fails the put and leaves the old blob untouched', async () => {
    await blobs.put('a/b.bin', Buffer.from('old'));
    const failing = new Readable({
      read() {
        this.push(Buffer.from('partial'));
        this.destroy(new Error('source broke'));
      },
    });
    await expect(blobs.put('a/b.bin', failing)).rejects.toThrow('source broke');
    expect((await blobs.get('a/b.bin')).toString()).toBe('old');
    expect(await blobs.list('')).toEqual(['a/b.bin']);
  });

  it('streams a byte range, inclusive of its end as HTTP Range is', async () => {
    await blobs.put('v/x.mp4', Buffer.from('0123456789'));
    expect(await text(await blobs.stream('v/x.mp4', { start: 2, end: 5 }))).toBe('2345');
    expect(await text(await blobs.stream('v/x.mp4', { start: 7 }))).toBe('789');
    expect(await text(await blobs.stream('v/x.mp4', { start: 8, end: 100 }))).toBe('89');
    expect(await text(await blobs.stream('v/x.mp4', { start: 5, end: 5 }))).toBe('5');
    expect(await text(await blobs.stream('v/x.mp4', { start: 10 }))).toBe('');
    expect(await text(await blobs.stream('v/x.mp4'))).toBe('0123456789');
    await expect(blobs.stream('v/x.mp4', { start: 5, end: 4 })).rejects.toThrow(RangeError);
    await expect(blobs.stream('v/x.mp4', { start: -1 })).rejects.toThrow(RangeError);
  });

  it('writes and reads a large blob in parts, and ranges across the parts', async () => {
    // 12 MiB: three parts of S3's smallest part size (5 MiB), a multipart upload there.
    const data = pattern(12 * MiB + 12_345, 7);
    expect(await blobs.put('videos/big/content.mp4', streamOf(data))).toMatchObject({ bytes: data.length });
    expect(sha(await blobs.get('videos/big/content.mp4'))).toBe(sha(data));
    const start = 5 * MiB - 1000;
    const end = 10 * MiB + 1000;
    expect(sha(await bytesOf(await blobs.stream('videos/big/content.mp4', { start, end })))).toBe(sha(data.subarray(start, end + 1)));
    expect(await bytesOf(await blobs.stream('videos/big/content.mp4', { start: data.length - 10 }))).toEqual(data.subarray(data.length - 10));
  });

  it('concurrent writers of one key: every reader sees one whole version, and one of them is left', async () => {
    const versions = [0, 1, 2, 3, 4, 5].map((i) => pattern(MiB + i * 1000, 100 + i));
    const known = new Set(versions.map(sha));
    await blobs.put('videos/v/out.mp4', versions[0]!);
    let writing = true;
    const reads: string[] = [];
    const reader = (async () => {
      while (writing) reads.push(sha(await blobs.get('videos/v/out.mp4')));
    })();
    await Promise.all(versions.slice(1).map((v, i) => blobs.put('videos/v/out.mp4', i % 2 ? v : streamOf(v, 64 * 1024))));
    writing = false;
    await reader;
    expect(reads.length).toBeGreaterThan(0);
    for (const read of reads) expect(known.has(read)).toBe(true);
    const last = await blobs.get('videos/v/out.mp4');
    expect(known.has(sha(last))).toBe(true);
    expect((await blobs.stat('videos/v/out.mp4'))?.bytes).toBe(last.length);
  });

  it('says which blob is missing', async () => {
    await expect(blobs.get('videos/nope/chunks/000.ts')).rejects.toThrow(BlobNotFound);
    await expect(blobs.get('videos/nope/chunks/000.ts')).rejects.toThrow('blob "videos/nope/chunks/000.ts" not found');
    await expect(blobs.stream('videos/nope')).rejects.toThrow(BlobNotFound);
    await expect(blobs.stream('videos/nope', { start: 1, end: 2 })).rejects.toThrow(BlobNotFound);
    expect(await blobs.stat('videos/nope')).toBeUndefined();
    expect(await blobs.exists('videos/nope')).toBe(false);
    expect(await blobs.delete('videos/nope')).toBe(false);
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
    await expect(blobs.stat(key)).rejects.toThrow(InvalidBlobKey);
    await expect(blobs.list(`${key}/`)).rejects.toThrow(InvalidBlobKey);
    expect(await blobs.list('')).toEqual([]);
  });
});

describe('filesystem blob store', () => {
  let root: string;
  let blobs: FsBlobStore;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-blobs-'));
    blobs = new FsBlobStore(root);
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('lives under $DATA_DIR/blobs unless BLOB_URL names a folder', () => {
    expect((createBlobStore(loadConfig({ DATA_DIR: root })) as FsBlobStore).root).toBe(path.join(root, 'blobs'));
    expect((createBlobStore(loadConfig({ DATA_DIR: root, BLOB_URL: `file://${root}/elsewhere` })) as FsBlobStore).root).toBe(path.join(root, 'elsewhere'));
  });

  it('keeps a key as a relative path, and leaves no temporary file or empty folder behind', async () => {
    await blobs.put('a/b.bin', Buffer.alloc(100_000, 1));
    await blobs.put('a/b.bin', Buffer.from('short'));
    expect(fs.readFileSync(path.join(root, 'a', 'b.bin'), 'utf8')).toBe('short');
    const failing = new Readable({
      read() {
        this.destroy(new Error('source broke'));
      },
    });
    await expect(blobs.put('a/b.bin', failing)).rejects.toThrow('source broke');
    expect(fs.readdirSync(path.join(root, '.tmp'))).toEqual([]);
    await blobs.put('videos/v1/chunks/000.ts', Buffer.from('x'));
    expect(await blobs.deletePrefix('videos/v1/')).toBe(1);
    expect(fs.existsSync(path.join(root, 'videos'))).toBe(false);
  });
});

describe('S3 blob store', () => {
  const store = (prefix = `s3/${randomUUID()}`) => new S3BlobStore(moto.client(), { bucket: BUCKET, prefix });

  it('is what BLOB_URL=s3://bucket/prefix makes, reached with the AWS variables', async () => {
    const config = loadConfig({
      BLOB_URL: `s3://${BUCKET}/tenants/eu/`,
      AWS_ENDPOINT_URL_S3: moto.endpoint,
      AWS_ACCESS_KEY_ID: moto.aws.credentials!.accessKeyId,
      AWS_SECRET_ACCESS_KEY: moto.aws.credentials!.secretAccessKey,
    });
    const blobs = createBlobStore(config) as S3BlobStore;
    expect(blobs).toBeInstanceOf(S3BlobStore);
    expect(blobs.location).toEqual({ bucket: BUCKET, prefix: 'tenants/eu' });
    await blobs.put('videos/v/out.mp4', Buffer.from('mp4'));
    // The object key is the prefix and the blob key: what another tool sees in the bucket.
    const head = await moto.client().send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'tenants/eu/videos/v/out.mp4' }));
    expect(head.ContentLength).toBe(3);
    expect(await blobs.deletePrefix('videos/')).toBe(1);
    blobs.client.destroy();
  });

  it('uploads a large stream in parts and aborts the upload when the source fails', async () => {
    const blobs = store();
    const data = pattern(11 * MiB, 3);
    await blobs.put('big.bin', streamOf(data));
    const head = await moto.client().send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${blobs.location.prefix}/big.bin` }));
    expect(head.ETag).toMatch(/-3"$/); // a multipart object's ETag counts its parts
    // A source that breaks after two parts: nothing is stored, and no upload is left open.
    const broken = Readable.from(
      (async function* () {
        yield pattern(10 * MiB, 4);
        throw new Error('source broke after two parts');
      })(),
    );
    await expect(blobs.put('broken.bin', broken)).rejects.toThrow('source broke after two parts');
    expect(await blobs.exists('broken.bin')).toBe(false);
    const uploads = await moto.client().send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: blobs.location.prefix }));
    expect(uploads.Uploads ?? []).toEqual([]);
  });

  it('signs a URL that serves the blob, and its ranges, without us', async () => {
    const blobs = store();
    await blobs.put('v/x.mp4', Buffer.from('0123456789'));
    const url = await blobs.signedUrl('v/x.mp4', 60);
    expect(url).toContain('X-Amz-Signature=');
    const whole = await fetch(url);
    expect(await whole.text()).toBe('0123456789');
    const part = await fetch(url, { headers: { range: 'bytes=3-5' } });
    expect(part.status).toBe(206);
    expect(await part.text()).toBe('345');
  });

  it('names the store and the failure when the bucket does not exist, and does not call it missing blobs', async () => {
    const blobs = new S3BlobStore(moto.client(), { bucket: 'no-such-bucket-here', prefix: '' });
    const err = await blobs.get('a/b').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlobStoreError);
    expect(err).not.toBeInstanceOf(BlobNotFound);
    expect((err as Error).message).toMatch(/s3:\/\/no-such-bucket-here\/.*NoSuchBucket/);
  });
});

describe('S3 blob store that stops answering', () => {
  let server: S3Server;
  let blobs: S3BlobStore;

  beforeAll(async () => {
    server = await startS3Server({ buckets: [BUCKET] });
    blobs = new S3BlobStore(server.client(), { bucket: BUCKET, prefix: 'outage' });
  });
  afterAll(() => server?.stop());

  /** The error of `op`, which must fail. */
  const failureOf = (op: Promise<unknown>) =>
    op.then(
      () => Promise.reject(new Error('expected a failure')),
      (err: unknown) => err,
    );

  it('fails every operation with a retryable BlobStoreUnavailable while it is down, and the same put succeeds once it is back', async () => {
    await server.stop();
    const data = Buffer.from('chunk 0');
    for (const op of [
      blobs.put('videos/v/chunks/000.ts', data),
      blobs.get('videos/v/chunks/000.ts'),
      blobs.stat('videos/v/chunks/000.ts'),
      blobs.list('videos/'),
    ]) {
      const err = await failureOf(op);
      expect(err).toBeInstanceOf(BlobStoreUnavailable);
      // Not a missing blob, and not an ApplicationFailure: Temporal retries the activity that met it.
      expect(err).not.toBeInstanceOf(BlobNotFound);
      expect(err).not.toBeInstanceOf(ApplicationFailure);
      expect((err as Error).message).toContain(`blob store s3://${BUCKET}/outage unavailable`);
    }
    await server.restart();
    expect(await blobs.put('videos/v/chunks/000.ts', data)).toMatchObject({ bytes: data.length });
    expect(await blobs.get('videos/v/chunks/000.ts')).toEqual(data);
  });

  it('fails a multipart upload cut off midway, leaves no object, and takes the same upload after the restart', async () => {
    const data = pattern(12 * MiB, 9);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let sentFirstPart!: () => void;
    const firstPart = new Promise<void>((r) => (sentFirstPart = r));
    const source = Readable.from(
      (async function* () {
        yield data.subarray(0, 6 * MiB);
        sentFirstPart();
        await gate; // the server goes away here, mid-upload
        yield data.subarray(6 * MiB);
      })(),
    );
    const put = failureOf(blobs.put('videos/v/content.mp4', source));
    await firstPart;
    await server.stop();
    release();
    const err = await put;
    expect(err).toBeInstanceOf(BlobStoreUnavailable);
    await server.restart();
    expect(await blobs.exists('videos/v/content.mp4')).toBe(false);
    await blobs.put('videos/v/content.mp4', streamOf(data));
    expect(sha(await blobs.get('videos/v/content.mp4'))).toBe(sha(data));
  });

  it('an activity meeting it fails retryably, not as a missing recording, stores nothing, and succeeds when retried after the restart', async () => {
    const recording = fs.readFileSync(await liveCameoClip());
    const { verifyCameoRecording } = createCameoVerificationActivities({
      blobs,
      ffmpeg: createFfmpeg({ ffmpegPath: testEnv.ffmpegPath }),
      logger: createLogger({ level: 'silent', name: 'test' }),
    });
    const input = { cameoId: 'cameo_s3', recordingKey: 'uploads/cameo_s3/recording.mp4', phrase: cameoTestPhrase() };
    await blobs.put(input.recordingKey, recording);
    await server.stop();
    const err = await failureOf(verifyCameoRecording(input));
    // Had it been BlobNotFound, the activity would have failed the cameo for good ('RecordingNotFound', non-retryable).
    expect(err).toBeInstanceOf(BlobStoreUnavailable);
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    await server.restart(); // moto comes back empty: the recording is uploaded again
    await blobs.put(input.recordingKey, recording);
    const result = await verifyCameoRecording(input);
    expect(result).toMatchObject({ accepted: true, likeness_key: 'cameos/cameo_s3/likeness.json' });
    expect(await blobs.exists('cameos/cameo_s3/likeness.json')).toBe(true);
  });
});

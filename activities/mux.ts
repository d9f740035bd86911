// The mux activity: a video's chunk segments and PCM audio become one MP4 (H.264 + AAC, faststart), plus a
// thumbnail and a spritesheet, all in the blob store. The ffmpeg work itself lives in infra/media/ffmpeg.ts; the MP4 is
// signed with its content credentials (a C2PA manifest, infra/provenance/c2pa.ts) before it is hashed and stored: the
// facts it states beyond its input (the model pack and its files' hashes, each cameo's consent chain head) are read
// here from the event store and the pack's manifest.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { BlobStore } from '../infra/blobs';
import type { EventStore } from '../infra/eventstore/port';
import type { Logger } from '../infra/logger';
import type { Ffmpeg } from '../infra/media/ffmpeg';
import { packDirOf, readPackIdentity } from '../infra/modelPacks';
import type { ContentCredentials, GenerationFacts } from '../infra/provenance/c2pa';
import { readConsentChain } from '../infra/streams/cameos';
import { readVideo } from '../infra/streams/videos';
import { contentKeys } from '../domain/video/content';

export interface MuxInput {
  videoId: string;
  videoKeys: string[];
  audioKeys: string[];
  fps: number;
  width: number;
  height: number;
  /** What the content credentials state: the seed, each cameo's consent, a remix's or an extension's parent. */
  provenance: MuxProvenance;
}

export interface MuxProvenance {
  seed: number;
  cameos: { cameoId: string; grantRevision: number }[];
  /** The video this one builds on and its MP4's blob key: the parent ingredient. */
  parent?: { videoId: string; contentKey: string };
}

export interface MuxResult {
  content_key: string;
  thumbnail_key: string;
  spritesheet_key: string;
  duration_s: number;
  bytes: number;
  /** SHA-256 of the MP4's bytes (hex): how an uploaded copy of it is recognised (POST /v1/videos/edits, extensions). */
  sha256: string;
  /**
   * SHA-256 of the MP4 before its content credentials: the media alone, the same for the same render (the manifest
   * names the video and its signature is new each time), so a rerun or a job that survived a fault can be compared.
   */
  media_sha256: string;
}

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of fs.createReadStream(file)) hash.update(piece as Buffer);
  return hash.digest('hex');
}

export interface MuxDeps {
  blobs: BlobStore;
  ffmpeg: Ffmpeg;
  logger: Logger;
  contentCredentials?: ContentCredentials;
  /**
   * Where the video's scene (its pack) and its cameos' consent histories are read. Absent (the pipeline bench's direct
   * runs, which record no streams): the credentials name no pack, and a video with a cameo cannot be signed.
   */
  eventStore?: EventStore;
  /** MODEL_PACK: the pack whose manifest gives the files' hashes of the pack the video's scene names (absent: none). */
  modelPack?: string;
}

export function createMuxActivities(deps: MuxDeps) {
  /**
   * The pack named on the video's scene (`name@version`), with its files' SHA-256 from the pack's manifest when that
   * manifest is of the same name and version. The GPU workers refuse a pack whose files do not match their manifest,
   * so the hashes are those of the files that rendered it; the orchestration worker needs only the manifest.
   */
  const modelPackOf = async (videoId: string): Promise<GenerationFacts['modelPack']> => {
    if (!deps.eventStore) return undefined;
    const scene = (await readVideo(deps.eventStore, videoId))?.state.scene;
    // Videos asked for before scenes were recorded name no pack.
    if (!scene) return undefined;
    const at = scene.pack.lastIndexOf('@');
    const name = at > 0 ? scene.pack.slice(0, at) : scene.pack;
    const version = at > 0 ? scene.pack.slice(at + 1) : undefined;
    let why = 'this mux was given no MODEL_PACK';
    if (deps.modelPack !== undefined) {
      try {
        const local = readPackIdentity(packDirOf(deps.modelPack));
        if (local.name === name && local.version === version) return { name, version, hashes: local.files };
        why = `MODEL_PACK is ${local.name}@${local.version}`;
      } catch (err) {
        why = (err as Error).message;
      }
    }
    // Signed all the same, naming the pack without hashes: nothing is stated that is not known.
    deps.logger.warn({ videoId, pack: scene.pack, why }, "the video's pack has no manifest here: its content credentials name it without its files' hashes");
    return { name, ...(version !== undefined ? { version } : {}) };
  };

  /** Each cameo's consent as the credentials state it: its grant revision and its consent history's head hash now. */
  const cameoFactsOf = async (videoId: string, cameos: MuxProvenance['cameos']): Promise<GenerationFacts['cameos']> => {
    if (cameos.length === 0) return [];
    const eventStore = deps.eventStore;
    if (!eventStore)
      throw ApplicationFailure.nonRetryable(`video ${videoId} has cameos, and this mux has no event store to read their consent`, 'c2pa_not_configured');
    return Promise.all(
      cameos.map(async (c) => {
        const chain = await readConsentChain(eventStore, c.cameoId);
        // A history that fails its own hash chain is not consent the credentials can vouch for.
        if (!chain.valid) {
          throw ApplicationFailure.nonRetryable(
            `cameo ${c.cameoId}'s consent history fails its hash chain (${chain.problems.map((p) => `revision ${p.revision}: ${p.problem}`).join('; ')})`,
            'consent_chain_invalid',
          );
        }
        return { cameoId: c.cameoId, grantRevision: c.grantRevision, consentHeadHash: chain.head_hash };
      }),
    );
  };

  return {
    async muxVideo(input: MuxInput): Promise<MuxResult> {
      if (input.videoKeys.length === 0 || input.videoKeys.length !== input.audioKeys.length) {
        throw new Error(`mux needs one audio chunk per video chunk, got ${input.videoKeys.length} video and ${input.audioKeys.length} audio`);
      }
      const credentials = deps.contentCredentials;
      if (!credentials) {
        throw ApplicationFailure.nonRetryable(
          'this worker cannot sign content credentials: set C2PA_SIGNING_KEY and C2PA_SIGNING_CERTS',
          'c2pa_not_configured',
        );
      }
      const ctx = Context.current();
      const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'reelforge-mux-'));
      try {
        const segments: string[] = [];
        for (const [i, key] of input.videoKeys.entries()) {
          const file = path.join(dir, `v${String(i).padStart(3, '0')}.ts`);
          await pipeline(await deps.blobs.stream(key), fs.createWriteStream(file));
          segments.push(file);
        }
        // Raw PCM chunks join by plain concatenation: same format, no headers.
        const audioFile = path.join(dir, 'audio.pcm');
        // One write stream fed chunk by chunk (a pipeline per key would add listeners to it for every chunk).
        const out = fs.createWriteStream(audioFile);
        const failed = new Promise<never>((_, reject) => out.once('error', reject));
        failed.catch(() => undefined);
        for (const key of input.audioKeys) {
          for await (const piece of await deps.blobs.stream(key)) {
            if (!out.write(piece)) await Promise.race([once(out, 'drain'), failed]);
          }
        }
        await Promise.race([new Promise<void>((resolve) => out.end(() => resolve())), failed]);
        ctx.heartbeat({ step: 'inputs ready' });

        const files = { content: path.join(dir, 'content.mp4'), thumbnail: path.join(dir, 'thumbnail.jpg'), spritesheet: path.join(dir, 'spritesheet.jpg') };
        const result = await deps.ffmpeg.mux({
          segments,
          audioFile,
          sampleRateHz: 48000,
          channels: 2,
          fps: input.fps,
          width: input.width,
          height: input.height,
          ...files,
        });
        ctx.heartbeat({ step: 'muxed' });
        const mediaSha256 = await sha256OfFile(files.content);
        // Signed, then hashed: the recorded sha256 is the signed file's, the one users download.
        const signed = path.join(dir, 'signed.mp4');
        const { parent } = input.provenance;
        let parentFile: string | undefined;
        // A remix is made from its parent's scene, not its file: a parent whose content is gone (retention deleted it)
        // still has remixes. Its MP4 is then no ingredient; the assertion still names it (parent_video_id).
        if (parent && (await deps.blobs.exists(parent.contentKey))) {
          parentFile = path.join(dir, 'parent.mp4');
          await pipeline(await deps.blobs.stream(parent.contentKey), fs.createWriteStream(parentFile));
        } else if (parent) {
          deps.logger.warn({ videoId: input.videoId, parent: parent.videoId }, "the parent's MP4 is gone: signed without it as an ingredient");
        }
        const [modelPack, cameos] = await Promise.all([modelPackOf(input.videoId), cameoFactsOf(input.videoId, input.provenance.cameos)]);
        await credentials.sign({
          source: files.content,
          dest: signed,
          facts: {
            videoId: input.videoId,
            seed: input.provenance.seed,
            ...(modelPack ? { modelPack } : {}),
            cameos,
            ...(parent ? { parentVideoId: parent.videoId } : {}),
          },
          ...(parent && parentFile ? { parent: { file: parentFile, videoId: parent.videoId } } : {}),
        });
        ctx.heartbeat({ step: 'signed' });
        const keys = contentKeys(input.videoId);
        const sha256 = await sha256OfFile(signed);
        const content = await deps.blobs.put(keys.content, fs.createReadStream(signed));
        await deps.blobs.put(keys.thumbnail, fs.createReadStream(files.thumbnail));
        await deps.blobs.put(keys.spritesheet, fs.createReadStream(files.spritesheet));
        deps.logger.debug({ videoId: input.videoId, bytes: content.bytes }, 'video muxed');
        return {
          content_key: keys.content,
          thumbnail_key: keys.thumbnail,
          spritesheet_key: keys.spritesheet,
          duration_s: result.durationS,
          bytes: content.bytes,
          sha256,
          media_sha256: mediaSha256,
        };
      } finally {
        await fs.promises.rm(dir, { recursive: true, force: true });
      }
    },
  };
}

// A video recorded straight into its stream through the domain's own decider, without running the pipeline: for API
// tests that need a video in a given state (finished or at moderation, published, taken down) in milliseconds.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { contentKeys } from '../../domain/video/content';
import { decide, evolve, initialVideoState, type VideoCommand, type VideoEvent } from '../../domain/video';
import type { EventStore } from '../../infra/eventstore/port';
import { videoRequest } from './videos';

export interface SeedVideo {
  ownerId: string;
  prompt?: string;
  cameoIds?: string[];
  seed?: number;
  /** Completed (the default), or left at its prompt verdict. */
  finished?: boolean;
  /** The MP4 the video is said to hold: its size and SHA-256 go into Muxed. */
  content?: Buffer;
  /** Commands decided after the rest (publish, take down), given the video's id and the time. */
  then?: (id: string, at: number) => VideoCommand[];
}

/** Appends the video's events to `video-<id>` (actor: the owner) and returns its id. */
export async function seedVideo(eventStore: EventStore, options: SeedVideo): Promise<string> {
  const id = `video_${randomBytes(16).toString('hex')}`;
  const at = Math.floor(Date.now() / 1000);
  const request = videoRequest(options.prompt ?? 'three red balls', {
    video_id: id,
    owner_id: options.ownerId,
    seconds: 1,
    cameo_ids: options.cameoIds ?? [],
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    at,
  });
  const verdict = { case_id: `case_${randomBytes(16).toString('hex')}`, verdict: 'allow' as const, categories: [], reasons: [], at };
  const keys = contentKeys(id);
  const { content } = options;
  const commands: VideoCommand[] = [
    { type: 'RequestVideo', data: request },
    { type: 'RecordPromptVerdict', data: verdict },
  ];
  if (options.finished !== false) {
    commands.push(
      { type: 'PlanChunks', data: { fps: 24, frames_per_chunk: 24, at } },
      { type: 'RecordVideoChunk', data: { index: 0, blob_key: `videos/${id}/chunks/000.ts`, frames: 24, collisions: [], at } },
      { type: 'RecordAudioChunk', data: { index: 0, blob_key: `videos/${id}/chunks/000.pcm`, samples: 48000, at } },
      {
        type: 'RecordMux',
        data: {
          content_key: keys.content,
          thumbnail_key: keys.thumbnail,
          spritesheet_key: keys.spritesheet,
          duration_s: 1,
          bytes: content?.length ?? 100,
          ...(content ? { sha256: createHash('sha256').update(content).digest('hex') } : {}),
          at,
        },
      },
      { type: 'RecordOutputVerdict', data: { ...verdict, case_id: `case_${randomBytes(16).toString('hex')}` } },
      { type: 'CompleteVideo', data: { at } },
    );
  }
  commands.push(...(options.then?.(id, at) ?? []));
  let state = initialVideoState;
  const events: VideoEvent[] = [];
  for (const command of commands) {
    const decided = decide(command, state);
    state = decided.reduce(evolve, state);
    events.push(...decided);
  }
  await eventStore.appendToStream(
    `video-${id}`,
    events.map((e) => ({ id: randomUUID(), type: e.type, data: e.data, metadata: { actor: options.ownerId } })),
    { expectedRevision: 'no_stream' },
  );
  return id;
}

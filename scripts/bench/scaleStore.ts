// The synthetic store of `bench:projections --scale S` (issue 22): at S = 1, 1,000,000 published videos, 10,000,000
// likes, 100,000 users with follows (10 each) and 50,000 remixes, the first 1,000 of them one chain (lineage at depth
// 1,000). Every video event is decided by the video decider (domain/video) on the video's folded state, as the
// workflows and the API decide them; follows are the events the API appends. Written by concurrent writers, a
// video's story in one append and its likes in appends of up to LIKES_PER_APPEND.
import { randomUUID } from 'node:crypto';
import { decide, evolve, initialVideoState, type VideoCommand, type VideoEvent, type VideoRequestedData, type VideoState } from '../../domain/video';
import type { EventStore, Position } from '../../infra/eventstore/port';
import { comparePositions } from '../../infra/eventstore/port';

export interface ScaleShape {
  users: number;
  videos: number;
  likes: number;
  remixes: number;
  followsPerUser: number;
  /** The longest remix chain (its leaf is what lineage is measured on). */
  chainDepth: number;
}

export function scaleShape(scale: number): ScaleShape {
  const n = (full: number, min: number) => Math.max(min, Math.round(full * scale));
  const remixes = n(50_000, 10);
  return { users: n(100_000, 20), videos: n(1_000_000, 50), likes: n(10_000_000, 100), remixes, followsPerUser: 10, chainDepth: Math.min(1000, remixes) };
}

const LIKES_PER_APPEND = 100;
const WRITERS = 8;
const BASE_AT = 1_760_000_000;

export interface ScaleStore {
  shape: ScaleShape;
  users: string[];
  /** Published videos in the order written, with their owners. */
  videos: { id: string; owner: string }[];
  /** The deepest video of the remix chain. */
  chainLeaf: string;
  /** Follows per user (who each follows). */
  follows: Map<string, string[]>;
  events: number;
  head: Position;
  seconds: number;
}

const userId = (i: number) => `user_${String(i).padStart(8, '0')}`;
const videoId = (i: number) => `video_${i.toString(16).padStart(32, '0')}`;

/** Decides `commands` in turn on `state`; returns the events and the state after them. */
function run(state: VideoState, commands: VideoCommand[]): { events: VideoEvent[]; state: VideoState } {
  const events: VideoEvent[] = [];
  for (const command of commands) {
    const decided = decide(command, state);
    state = decided.reduce(evolve, state);
    events.push(...decided);
  }
  return { events, state };
}

/** A 1 s video from request to publication, decided command by command. */
function story(id: string, owner: string, at: number, parent: string | null): { events: VideoEvent[]; state: VideoState } {
  const request: VideoRequestedData = {
    video_id: id,
    owner_id: owner,
    prompt: `three balls bouncing, take ${at % 9973}`,
    model: 'reference',
    seconds: 1,
    size: '256x256',
    style: 'cinematic',
    camera: 'static',
    seed: at % 100_000,
    cameo_ids: [],
    publish: true,
    remixed_from_video_id: parent,
    extended_from_video_id: null,
    has_input_reference: false,
    at,
  };
  return run(initialVideoState, [
    { type: 'RequestVideo', data: request },
    { type: 'RecordPromptVerdict', data: { case_id: `case_${id.slice(6)}`, verdict: 'allow', categories: [], reasons: [], at: at + 1 } },
    { type: 'PlanChunks', data: { fps: 24, frames_per_chunk: 24, at: at + 2 } },
    { type: 'RecordVideoChunk', data: { index: 0, blob_key: `videos/${id}/chunks/000.ts`, frames: 24, collisions: [], at: at + 3 } },
    { type: 'RecordAudioChunk', data: { index: 0, blob_key: `videos/${id}/chunks/000.pcm`, samples: 48_000, at: at + 3 } },
    {
      type: 'RecordMux',
      data: {
        content_key: `videos/${id}/content.mp4`,
        thumbnail_key: `videos/${id}/thumbnail.jpg`,
        spritesheet_key: `videos/${id}/spritesheet.jpg`,
        duration_s: 1,
        bytes: 60_000,
        at: at + 4,
      },
    },
    { type: 'RecordOutputVerdict', data: { case_id: `case2_${id.slice(6)}`, verdict: 'allow', categories: [], reasons: [], at: at + 5 } },
    { type: 'CompleteVideo', data: { at: at + 6 } },
    { type: 'PublishVideo', data: { by: owner, cameo_uses: [], at: at + 7 } },
  ]);
}

/** Runs `work(i)` for i in [0, n) on WRITERS concurrent writers. */
async function inParallel(n: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

/** `callers`: user ids that take the place of the first synthetic users (the bench's API callers, with keys). */
export async function writeScaleStore(store: EventStore, scale: number, log: (msg: string) => void, callers: readonly string[] = []): Promise<ScaleStore> {
  const shape = scaleShape(scale);
  const started = performance.now();
  let events = 0;
  let head: Position | undefined;
  const append = async (stream: string, batch: { type: string; data: unknown }[]) => {
    const { position } = await store.appendToStream(
      stream,
      batch.map((e) => ({ id: randomUUID(), type: e.type, data: e.data, metadata: { actor: 'bench' } })),
    );
    events += batch.length;
    if (!head || comparePositions(position, head) > 0) head = position;
  };
  const users = Array.from({ length: shape.users }, (_, i) => callers[i] ?? userId(i));

  // Follows: each user follows the next followsPerUser users (wrapping), so mutuals exist both ways.
  log(`writing follows: ${shape.users} users x ${shape.followsPerUser}`);
  const follows = new Map<string, string[]>();
  await inParallel(shape.users, async (i) => {
    const followees = Array.from({ length: shape.followsPerUser }, (_, k) => users[(i + k + 1) % users.length]!);
    follows.set(users[i]!, followees);
    await append(
      `user-${users[i]}`,
      followees.map((f, k) => ({ type: 'UserFollowed', data: { followee_id: f, at: BASE_AT + k } })),
    );
  });

  // Videos: the remixes first among them (the chain, then remixes of random earlier videos), decided from request to
  // publication; a remix also records VideoRemixed on its parent, decided on the parent's state.
  log(`writing ${shape.videos} videos (${shape.remixes} remixes)`);
  const states = new Map<string, VideoState>();
  const videos: { id: string; owner: string }[] = [];
  const originals = shape.videos - shape.remixes;
  for (let i = 0; i < originals; i++) videos.push({ id: videoId(i), owner: users[(i * 7919) % users.length]! });
  await inParallel(originals, async (i) => {
    const v = videos[i]!;
    const made = story(v.id, v.owner, BASE_AT + i, null);
    states.set(v.id, made.state);
    await append(`video-${v.id}`, made.events);
  });
  // The chain is written in order (each remixes the one before it); the other remixes in parallel.
  let chainLeaf = videos[0]!.id;
  const remix = async (r: number, parent: string) => {
    const id = videoId(originals + r);
    const owner = users[(r * 104_729) % users.length]!;
    const made = story(id, owner, BASE_AT + originals + r, parent);
    states.set(id, made.state);
    videos.push({ id, owner });
    await append(`video-${id}`, made.events);
    const recorded = run(states.get(parent)!, [{ type: 'RecordRemix', data: { child_video_id: id, by: owner, at: BASE_AT + originals + r + 10 } }]);
    states.set(parent, recorded.state);
    await append(`video-${parent}`, recorded.events);
    return id;
  };
  for (let r = 0; r < shape.chainDepth; r++) chainLeaf = await remix(r, chainLeaf);
  const others = shape.remixes - shape.chainDepth;
  // Parents among the originals, each a distinct one per writer at a time so that two appends never race on one stream.
  await inParallel(others, async (k) => {
    await remix(shape.chainDepth + k, videos[(shape.chainDepth + k * 31) % originals]!.id);
  });

  // Likes: spread unevenly (every video some, a few many), each decided on the video's state, appended in batches.
  log(`writing ${shape.likes} likes`);
  const perVideo = Math.floor(shape.likes / videos.length);
  const extra = shape.likes - perVideo * videos.length;
  await inParallel(videos.length, async (i) => {
    const v = videos[i]!;
    const count = perVideo + (i < extra ? 1 : 0);
    let state = states.get(v.id)!;
    for (let from = 0; from < count; from += LIKES_PER_APPEND) {
      const commands: VideoCommand[] = [];
      for (let k = from; k < Math.min(count, from + LIKES_PER_APPEND); k++) {
        commands.push({ type: 'LikeVideo', data: { user_id: users[(i * 13 + k * 101) % users.length]!, at: BASE_AT + 2_000_000 + k } });
      }
      const decided = run(state, commands);
      state = decided.state;
      if (decided.events.length) await append(`video-${v.id}`, decided.events);
    }
    states.delete(v.id);
  });
  return { shape, users, videos, chainLeaf, follows, events, head: head!, seconds: (performance.now() - started) / 1000 };
}

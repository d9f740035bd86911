// A video's state folded from its stream, with the revision to append at: what the API decides on while the read
// model may lag (GET right after a create, remixes and extensions of a source, changes only its owner may make).
import { foldVideo, type VideoEvent, type VideoState } from '../../domain/video';
import type { EventStore } from '../eventstore/port';
import { readStreamOrEmpty } from '../eventstore/readOrEmpty';

/** Undefined when nothing is recorded for the video. */
export async function readVideo(eventStore: EventStore, videoId: string): Promise<{ state: VideoState; revision: bigint } | undefined> {
  const events = await readStreamOrEmpty(eventStore, `video-${videoId}`);
  if (events.length === 0) return undefined;
  return { state: foldVideo(events.map((e) => ({ type: e.type, data: e.data }) as VideoEvent)), revision: events[events.length - 1]!.revision };
}

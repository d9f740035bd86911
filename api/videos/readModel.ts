// What the routes need of the videos read model (VideoReadModel), and that port over the projector's videos query
// (projections/queries.ts): the one place the API meets that query, so its shapes and errors are translated here and
// nowhere else.
import { createVideosQuery, InvalidCursor, type SqlClient } from '../../projections/queries';
import type { VideoList, VideoObject } from './schemas';

/** What the routes need of the videos read model; createVideoReadModel adapts the projector's query to it. */
export interface VideoReadModel {
  /** The video, or undefined when there is none or it was deleted. Who may see it is decided here, not there. */
  get(id: string): Promise<VideoObject | undefined>;
  /** The owner's videos, newest first unless `order` is asc; throws UnknownCursor when `after` is not one of them. */
  list(options: { ownerId: string; after?: string; limit: number; order: 'asc' | 'desc' }): Promise<VideoList>;
  /** The completed video whose MP4 has this SHA-256 that the viewer may build on (own first), if any (videoFile.ts). */
  findByContent(sha256: string, viewer: { ownerId: string; anyOwner?: boolean }): Promise<string | undefined>;
  /** How many of the owner's videos are still queued or in progress. */
  countActive(ownerId: string): Promise<number>;
  /** Seconds of video the owner asked for since `since` (Unix seconds), failed ones left out. */
  secondsSince(ownerId: string, since: number): Promise<number>;
}

/** `after` names no video of the caller's: a 400 on `after`. */
export class UnknownCursor extends Error {
  constructor(readonly after: string) {
    super(`after=${after} is not one of your videos`);
    this.name = 'UnknownCursor';
  }
}

/** `schema`: where the projector keeps the videos table (its default `readmodels`; tests use their own). */
export function createVideoReadModel(db: SqlClient, options: { schema?: string } = {}): VideoReadModel {
  const query = createVideosQuery(db, options);
  return {
    get: (id) => query.getVideo(id),
    findByContent: (sha256, viewer) => query.findVideoByContent(sha256, viewer),
    countActive: (ownerId) => query.countActiveVideos(ownerId),
    secondsSince: (ownerId, since) => query.secondsRequestedSince(ownerId, since),
    async list(options) {
      try {
        return await query.listVideos(options);
      } catch (err) {
        if (err instanceof InvalidCursor) throw new UnknownCursor(err.after);
        throw err;
      }
    },
  };
}

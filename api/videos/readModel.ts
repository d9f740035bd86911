// The routes' VideoReadModel over the projector's videos query (projections/queries.ts): the one place the API
// meets that query, so its shapes and errors are translated here and nowhere else.
import { createVideosQuery, InvalidCursor, type SqlClient } from '../../projections/queries';
import { UnknownCursor, type VideoReadModel } from '../routes/videos';

/** `schema`: where the projector keeps the videos table (its default `readmodels`; tests use their own). */
export function createVideoReadModel(db: SqlClient, options: { schema?: string } = {}): VideoReadModel {
  const query = createVideosQuery(db, options);
  return {
    get: (id) => query.getVideo(id),
    findByContent: (sha256, viewer) => query.findVideoByContent(sha256, viewer),
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

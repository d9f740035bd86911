// The read models' queries: the one module of the projector the API imports (docs/architecture.md, "Layers"). The
// API reads lists, the feed and lineage here; decisions never read a read model (they fold the stream they change).
export type { SqlClient } from './store';
export {
  createVideosQuery,
  InvalidCursor,
  previewUrlOf,
  toApiVideo,
  type ApiVideo,
  type ListVideosOptions,
  type VideoList,
  type VideosQuery,
} from './videosQuery';
export {
  createFeedQuery,
  DEFAULT_FEED_CURSOR_TTL_SECONDS,
  FEED_SCORE_FORMULA,
  FeedCursorExpired,
  feedScore,
  InvalidFeedCursor,
  type FeedPage,
  type FeedPageOptions,
  type FeedQuery,
} from './feedQuery';
export { createFollowsQuery, type FollowsQuery } from './followsQuery';
export { createModerationCasesQuery, type CaseListOptions, type CaseRow, type ModerationCasesQuery } from './moderationCasesQuery';
export { createLineageQuery, type Lineage, type LineageEntry, type LineageQuery, type LineageViewer } from './lineageQuery';

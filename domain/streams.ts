// Any domain stream folded into its state with the evolve functions the system itself uses, chosen by the stream's
// category (its name up to the first `-`, as EventStoreDB reads categories): what GET /v1/debug/streams answers.
import { foldCameo, type CameoEvent, type CameoEventType, type CameoState, type UserEvent } from './cameo';
import { followeesOf } from './cameo/follows';
import { evolveModeration, initialModerationState, type ModerationCaseState, type ModerationEvent } from './moderation/events';
import { foldVideo, type VideoEvent, type VideoEventType, type VideoState } from './video';

/** An event as read from its stream; the revision only names the event in errors. */
export interface StreamEvent {
  type: string;
  data: unknown;
  revision?: bigint | number;
}

/** What a `user-<id>` stream folds to: whom the user follows now, in the order they were followed. */
export interface FollowsState {
  followees: string[];
}

/** The state of each category, tagged with it. */
export type FoldedStream =
  | { category: 'video'; state: VideoState }
  | { category: 'cameo'; state: CameoState }
  | { category: 'user'; state: FollowsState }
  | { category: 'moderation'; state: ModerationCaseState };

export type StreamCategory = FoldedStream['category'];

/** Every event type of a union, listed at run time; the compiler checks the list is complete and has nothing else. */
function eventTypes<T extends string>(types: Record<T, true>): ReadonlySet<string> {
  return new Set(Object.keys(types));
}

interface Category<C extends StreamCategory> {
  /** Who writes the stream, and with what fold: for error messages and the API's documentation. */
  description: string;
  types: ReadonlySet<string>;
  fold(events: Array<{ type: string; data: unknown }>): Extract<FoldedStream, { category: C }>['state'];
}

const CATEGORIES: { [C in StreamCategory]: Category<C> } = {
  video: {
    description: '`video-<video id>`: a video from request to result, folded with domain/video evolve (as the videos read model does)',
    types: eventTypes<VideoEventType>({
      VideoRequested: true,
      PromptModerated: true,
      ModerationReviewed: true,
      VideoAppealed: true,
      CameoUseReserved: true,
      SceneDescribed: true,
      ChunksPlanned: true,
      VideoChunkRendered: true,
      PreviewSegmentPassed: true,
      AudioChunkRendered: true,
      Muxed: true,
      OutputModerated: true,
      VideoCompleted: true,
      VideoBlocked: true,
      VideoFailed: true,
      VideoCancelled: true,
      VideoPublished: true,
      VideoDeleted: true,
      VideoTakenDown: true,
      VideoRemixed: true,
      VideoLiked: true,
      VideoUnliked: true,
      VideoViewed: true,
      VideoContentExpired: true,
    }),
    fold: (events) => foldVideo(events as VideoEvent[]),
  },
  cameo: {
    description: '`cameo-<cameo id>`: a likeness and every consent decision about it, folded with domain/cameo foldCameo',
    types: eventTypes<CameoEventType>({
      CameoRegistered: true,
      CameoVerified: true,
      CameoVerificationChecked: true,
      CameoRejected: true,
      CameoPermissionChanged: true,
      CameoAccessGranted: true,
      CameoAccessRevoked: true,
      CameoUsed: true,
      CameoUseBlocked: true,
      CameoUsePublished: true,
      CameoDeleted: true,
    }),
    fold: (events) => foldCameo(events as CameoEvent[]),
  },
  user: {
    description: '`user-<user id>`: whom a user follows, folded with domain/cameo/follows followeesOf',
    types: eventTypes<UserEvent['type']>({ UserFollowed: true, UserUnfollowed: true }),
    fold: (events) => ({ followees: [...followeesOf(events as UserEvent[])] }),
  },
  moderation: {
    description: '`moderation-<case id>`: one moderation case (a prompt or an output), folded with domain/moderation evolveModeration',
    types: eventTypes<ModerationEvent['type']>({
      CaseOpened: true,
      AutomatedVerdict: true,
      ReviewRequested: true,
      CaseEscalated: true,
      ReviewDecided: true,
      Appealed: true,
      CaseClosed: true,
      CaseWithdrawn: true,
    }),
    fold: (events) => (events as ModerationEvent[]).reduce(evolveModeration, initialModerationState),
  },
};

/** The categories a stream may belong to, in the order the API lists them. */
export const STREAM_CATEGORIES: readonly StreamCategory[] = Object.keys(CATEGORIES) as StreamCategory[];

/** One line per category: what its streams are named and how they fold. */
export function describeCategories(): string[] {
  return STREAM_CATEGORIES.map((c) => CATEGORIES[c].description);
}

/** The stream's name is not `<category>-<id>` for a category this module folds. */
export class UnknownStreamCategory extends Error {
  constructor(readonly stream: string) {
    super(`stream ${JSON.stringify(stream)} is not one of ${STREAM_CATEGORIES.map((c) => `${c}-<id>`).join(', ')}`);
    this.name = 'UnknownStreamCategory';
  }
}

/** An event its category's evolve does not know (or chokes on): the stream cannot be folded past it. */
export class UnfoldableEvent extends Error {
  constructor(
    readonly stream: string,
    readonly revision: bigint | number | undefined,
    readonly eventType: string,
    readonly reason: string,
  ) {
    super(`${stream}${revision === undefined ? '' : ` at revision ${revision}`}: ${eventType}: ${reason}`);
    this.name = 'UnfoldableEvent';
  }
}

/** The category of `video-video_abc` is `video`; undefined when the name is not `<known category>-<non-empty id>`. */
export function categoryOf(stream: string): StreamCategory | undefined {
  const dash = stream.indexOf('-');
  if (dash <= 0 || dash === stream.length - 1) return undefined;
  const category = stream.slice(0, dash);
  return Object.hasOwn(CATEGORIES, category) ? (category as StreamCategory) : undefined;
}

/**
 * Folds a stream's events, oldest first from revision 0, into its category's state. Throws UnknownStreamCategory for
 * a name of no known category, UnfoldableEvent for an event type the category's evolve does not handle (folding it
 * would silently give a wrong state) or an evolve that throws.
 */
export function foldStream(stream: string, events: readonly StreamEvent[]): FoldedStream {
  const category = categoryOf(stream);
  if (!category) throw new UnknownStreamCategory(stream);
  const spec = CATEGORIES[category] as { types: ReadonlySet<string>; fold(events: Array<{ type: string; data: unknown }>): unknown };
  for (const e of events) {
    if (!spec.types.has(e.type))
      throw new UnfoldableEvent(stream, e.revision, e.type, `not an event of a ${category} stream (known: ${[...spec.types].join(', ')})`);
  }
  const domainEvents = events.map((e) => ({ type: e.type, data: e.data }));
  try {
    return { category, state: spec.fold(domainEvents) } as FoldedStream;
  } catch (err) {
    // Only on failure: fold ever longer prefixes to name the event the fold choked on.
    let at = events.length - 1;
    for (let n = 1; n < events.length; n++) {
      try {
        spec.fold(domainEvents.slice(0, n));
      } catch {
        at = n - 1;
        break;
      }
    }
    const culprit = events[at];
    throw new UnfoldableEvent(stream, culprit?.revision, culprit?.type ?? '(none)', `evolve failed: ${(err as Error).message}`);
  }
}

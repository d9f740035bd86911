// Who a user follows, folded from the `user-<id>` stream; `mutuals` permission rests on it.
import type { UserEvent } from './events';

/** Folds one follow event into the set, in place: the set is the fold's own (from followeesEvolver.initialState). */
export function evolveFollowees(followees: Set<string>, e: UserEvent): Set<string> {
  if (e.type === 'UserFollowed') followees.add(e.data.followee_id);
  else if (e.type === 'UserUnfollowed') followees.delete(e.data.followee_id);
  return followees;
}

/** How a user stream folds into whom the user follows, for a command handler over user streams. */
export const followeesEvolver = { initialState: (): Set<string> => new Set<string>(), evolve: evolveFollowees };

export function followeesOf(events: readonly UserEvent[]): Set<string> {
  return events.reduce(evolveFollowees, followeesEvolver.initialState());
}

export const userStream = (userId: string): string => `user-${userId}`;
export const cameoStream = (cameoId: string): string => `cameo-${cameoId}`;

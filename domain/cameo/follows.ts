// Who a user follows, folded from the `user-<id>` stream; `mutuals` permission rests on it.
import type { UserEvent } from './events';

export function followeesOf(events: readonly UserEvent[]): Set<string> {
  const followees = new Set<string>();
  for (const e of events) {
    if (e.type === 'UserFollowed') followees.add(e.data.followee_id);
    else if (e.type === 'UserUnfollowed') followees.delete(e.data.followee_id);
  }
  return followees;
}

export const userStream = (userId: string): string => `user-${userId}`;
export const cameoStream = (cameoId: string): string => `cameo-${cameoId}`;

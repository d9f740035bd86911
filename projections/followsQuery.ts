// Reads of the follows read model (follows.ts) and, with the cameo appearances, the uses an unfollow may block.
import { DEFAULT_READMODELS_SCHEMA, quoteSchema, type SqlClient } from './store';

export interface FollowsQuery {
  /** The users `userId` follows now (as far as the projector has folded). */
  followees(userId: string): Promise<string[]>;
  /** Whether the read model has `follower` following `followee` now. */
  isFollowing(follower: string, followee: string): Promise<boolean>;
  /**
   * The cameos whose uses by one of the two users rest on their mutual follow with the other, the cameo's owner, and
   * are not yet published: what the end of that mutual follow blocks. Each with the user whose uses they are.
   */
  usesOnMutualFollow(a: string, b: string): Promise<Array<{ cameo_id: string; user_id: string }>>;
}

export function createFollowsQuery(db: SqlClient, options: { schema?: string } = {}): FollowsQuery {
  const s = quoteSchema(options.schema ?? DEFAULT_READMODELS_SCHEMA);
  return {
    async followees(userId) {
      const res = await db.query<{ followee_id: string }>(`SELECT followee_id FROM ${s}.follows WHERE follower_id = $1 AND following`, [userId]);
      return res.rows.map((r) => r.followee_id);
    },
    async isFollowing(follower, followee) {
      const res = await db.query(`SELECT 1 FROM ${s}.follows WHERE follower_id = $1 AND followee_id = $2 AND following`, [follower, followee]);
      return res.rowCount !== 0;
    },
    async usesOnMutualFollow(a, b) {
      const res = await db.query<{ cameo_id: string; user_id: string }>(
        `SELECT DISTINCT u.cameo_id, u.user_id FROM ${s}.cameo_appearances u JOIN ${s}.cameo_owners o USING (cameo_id)
         WHERE u.basis = 'mutuals' AND u.use_status = 'active' AND ((u.user_id = $1 AND o.owner_id = $2) OR (u.user_id = $2 AND o.owner_id = $1))
         ORDER BY u.cameo_id, u.user_id`,
        [a, b],
      );
      return res.rows;
    },
  };
}

// The reads of `bench:projections --scale` (issue 22), on the live read models once the projector has caught up: the
// feed's first page and later pages (everyone's, and following=true), lineage at the remix chain's depth, and a user's
// list, each many times through the query modules the API calls (projections/queries.ts), p50/p99; and the targets
// table, every measured value beside issue 22's goal.
import type { PoolClient } from 'pg';
import { createFeedQuery } from '../../projections/feedQuery';
import { refreshFeedRanking } from '../../projections/feedRanking';
import { createLineageQuery } from '../../projections/lineageQuery';
import type { SqlClient } from '../../projections/store';
import { createVideosQuery } from '../../projections/videosQuery';
import type { ScaleStore } from './scaleStore';
import { fmt, renderTable } from './table';

const SAMPLES = 200;
const PAGES_DEEP = 5;

export interface ReadLatency {
  read: string;
  samples: number;
  p50Ms: number;
  p99Ms: number;
}

export interface Reads {
  /** The projector's feed ranking made before the reads (feedRanking.ts), and how long it took. */
  ranking: { videos: number; seconds: number };
  latencies: ReadLatency[];
}

/** The p-th percentile (nearest rank) of `values`; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]! : NaN;
}

async function timed(read: string, samples: number, once: (i: number) => Promise<unknown>): Promise<ReadLatency> {
  const ms: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await once(i);
    ms.push(performance.now() - t0);
  }
  return { read, samples, p50Ms: percentile(ms, 50), p99Ms: percentile(ms, 99) };
}

export async function measureReads(
  pool: SqlClient & { connect(): Promise<PoolClient> },
  schema: string,
  store: ScaleStore,
  log: (msg: string) => void,
): Promise<Reads> {
  const nowS = Math.floor(Date.now() / 1000);
  log('reads: ranking the feed (as the projector does every FEED_RANKING_INTERVAL_SECONDS)');
  const t0 = performance.now();
  const ranking = await refreshFeedRanking(pool, { schema, nowS });
  const rankingSeconds = (performance.now() - t0) / 1000;
  const feed = createFeedQuery(pool, { schema });
  const lineage = createLineageQuery(pool, { schema });
  const videos = createVideosQuery(pool, { schema });
  const user = (i: number) => store.users[(i * 7) % store.users.length]!;
  const latencies: ReadLatency[] = [];
  log('reads: the feed');
  latencies.push(await timed('GET /v1/feed, first page', SAMPLES, () => feed.page({ limit: 20, nowS })));
  const later: number[] = [];
  const walkLater = async (owners?: string[]) => {
    let after = (await feed.page({ limit: 20, nowS, ...(owners ? { owners } : {}) })).last_id;
    for (let p = 0; p < PAGES_DEEP && after; p++) {
      const t = performance.now();
      after = (await feed.page({ limit: 20, nowS, after, ...(owners ? { owners } : {}) })).last_id;
      later.push(performance.now() - t);
    }
  };
  for (let i = 0; i < SAMPLES / PAGES_DEEP; i++) await walkLater();
  latencies.push({ read: 'GET /v1/feed, later pages', samples: later.length, p50Ms: percentile(later, 50), p99Ms: percentile(later, 99) });
  latencies.push(await timed('GET /v1/feed?following=true, first page', SAMPLES, (i) => feed.page({ limit: 20, nowS, owners: store.follows.get(user(i))! })));
  log('reads: lineage and lists');
  latencies.push(
    await timed(`GET /v1/videos/:id/lineage, depth ${store.shape.chainDepth}`, SAMPLES, () =>
      lineage.lineage(store.chainLeaf, { userId: user(0), seesAll: false }),
    ),
  );
  latencies.push(
    await timed("GET /v1/videos (a user's list)", SAMPLES, (i) =>
      videos.listVideos({ ownerId: store.videos[(i * 97) % store.videos.length]!.owner, limit: 20 }),
    ),
  );
  return { ranking: { videos: ranking.videos, seconds: rankingSeconds }, latencies };
}

interface TargetRow {
  target: string;
  measured: number;
  goal: number;
  /** At most the goal (latency) or at least (throughput). */
  atMost: boolean;
  unit: string;
}

export function targetsTable(
  rebuilds: { readModel: string; eventsPerSec: number }[],
  lag: { readModel: string; p99Ms: number }[],
  reads: Reads,
  rate: { offered: number; achieved: number },
): string {
  const rows: TargetRow[] = [
    ...lag.map((l) => ({
      target: `${l.readModel}: live lag p99 at ${fmt(rate.offered)} events/s offered (${fmt(rate.achieved)} achieved)`,
      measured: l.p99Ms,
      goal: 100,
      atMost: true,
      unit: 'ms',
    })),
    ...rebuilds.map((r) => ({ target: `${r.readModel}: rebuild`, measured: r.eventsPerSec, goal: 20_000, atMost: false, unit: 'events/s' })),
    ...reads.latencies.map((l) => ({
      target: `${l.read} p99`,
      measured: l.p99Ms,
      goal: l.read.startsWith('GET /v1/videos (') ? 20 : 50,
      atMost: true,
      unit: 'ms',
    })),
  ];
  return [
    'Targets (issue 22)',
    renderTable(
      ['target', 'measured', 'goal', 'verdict'],
      rows.map((r) => [
        r.target,
        `${fmt(r.measured, r.unit === 'ms' ? 1 : 0)} ${r.unit}`,
        `${r.atMost ? '<=' : '>='} ${fmt(r.goal)} ${r.unit}`,
        (r.atMost ? r.measured <= r.goal : r.measured >= r.goal) ? 'PASS' : 'MISS',
      ]),
    ),
    `(reads: ${SAMPLES} samples each through the query modules the API calls; the feed ranked first, ${fmt(reads.ranking.videos)} videos in ${fmt(reads.ranking.seconds, 2)} s)`,
  ].join('\n');
}

// The reads of `bench:projections --scale` (issue 22), on the live read models once the projector has caught up: the
// feed's first page and later pages (everyone's, and following=true), lineage at the remix chain's depth, and a user's
// list, each many times over HTTP from the API app (scripts/bench/apiServer.ts) as the store's first users, p50/p99;
// and the targets table, every measured value beside issue 22's goal.
import type { PoolClient } from 'pg';
import { refreshFeedRanking } from '../../projections/feedRanking';
import type { SqlClient } from '../../projections/store';
import type { ScaleStore } from './scaleStore';
import { fmt, renderTable } from './table';

const SAMPLES = 200;
/** The API callers the reads rotate through (users of the synthetic store, with keys). */
export const CALLERS = 20;
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

/** A GET of the bench API as `key`; its JSON body, or a throw naming the route and what it answered. */
async function get(url: string, route: string, key: string): Promise<{ data?: { id: string }[]; last_id?: string | null; ancestors?: unknown[] }> {
  const res = await fetch(`${url}${route}`, { headers: { authorization: `Bearer ${key}` } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${route} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as { data?: { id: string }[] };
}

/** The reads over HTTP from the API (scripts/bench/apiServer.ts), as `callers` (the store's first users). */
export async function measureReads(
  pool: SqlClient & { connect(): Promise<PoolClient> },
  schema: string,
  store: ScaleStore,
  api: { url: string; keys: readonly string[] },
  log: (msg: string) => void,
): Promise<Reads> {
  const nowS = Math.floor(Date.now() / 1000);
  log('reads: ranking the feed (as the projector does every FEED_RANKING_INTERVAL_SECONDS)');
  const t0 = performance.now();
  const ranking = await refreshFeedRanking(pool, { schema, nowS });
  const rankingSeconds = (performance.now() - t0) / 1000;
  const key = (i: number) => api.keys[i % api.keys.length]!;
  const page = async (route: string, i: number, want: 'data' | 'ancestors' = 'data') => {
    const body = await get(api.url, route, key(i));
    if (!(body[want]?.length ?? 0)) throw new Error(`GET ${route} answered 200 with no ${want}: the bench reads nothing`);
    return body;
  };
  const latencies: ReadLatency[] = [];
  log(`reads: the feed, over HTTP (${api.url})`);
  // Warm-up: the first requests of a process compile its routes' serializers and fill the connection pools.
  for (let i = 0; i < 20; i++) await page('/v1/feed?limit=20', i);
  latencies.push(await timed('GET /v1/feed, first page', SAMPLES, (i) => page('/v1/feed?limit=20', i)));
  const later: number[] = [];
  const walkLater = async (i: number, following: boolean) => {
    const base = `/v1/feed?limit=20${following ? '&following=true' : ''}`;
    let after = (await page(base, i)).last_id;
    for (let p = 0; p < PAGES_DEEP && after; p++) {
      const t = performance.now();
      after = (await page(`${base}&after=${encodeURIComponent(after)}`, i)).last_id;
      later.push(performance.now() - t);
    }
  };
  for (let i = 0; i < SAMPLES / PAGES_DEEP; i++) await walkLater(i, false);
  latencies.push({ read: 'GET /v1/feed, later pages', samples: later.length, p50Ms: percentile(later, 50), p99Ms: percentile(later, 99) });
  latencies.push(await timed('GET /v1/feed?following=true, first page', SAMPLES, (i) => page('/v1/feed?limit=20&following=true', i)));
  log('reads: lineage and lists');
  latencies.push(
    await timed(`GET /v1/videos/:id/lineage, depth ${store.shape.chainDepth}`, SAMPLES, (i) => page(`/v1/videos/${store.chainLeaf}/lineage`, i, 'ancestors')),
  );
  latencies.push(await timed("GET /v1/videos (a user's list)", SAMPLES, (i) => page('/v1/videos?limit=20', i)));
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
    `(reads: ${SAMPLES} samples each over HTTP from the API app, as ${CALLERS} callers in turn; the feed ranked first, ${fmt(reads.ranking.videos)} videos in ${fmt(reads.ranking.seconds, 2)} s)`,
  ].join('\n');
}

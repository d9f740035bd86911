// Tiers (issue 18): what a user may do and how soon their videos get a GPU. Each user belongs to one tier (the users
// store's `tier`, `default` unless an admin says otherwise); a tier sets the request rate, the concurrent-job limit,
// the daily budget of video seconds and the GPU weight. The `default` tier comes from RATE_LIMIT_REQUESTS,
// MAX_ACTIVE_VIDEOS_PER_USER and DAILY_VIDEO_SECONDS_PER_USER (weight 1); TIERS_FILE (JSON) adds tiers, and may
// redefine `default`. Pure: the file's text comes in, a table or an error naming the field comes out.

export interface Tier {
  name: string;
  /** Requests to /v1 per RATE_LIMIT_WINDOW_SECONDS; 0: no limit. */
  rateLimitRequests: number;
  /** Videos queued or in progress at once; 0: no limit. */
  maxActiveVideos: number;
  /** Seconds of video per UTC day; 0: no budget. */
  dailyVideoSeconds: number;
  /**
   * The tier's share of the GPUs when several tiers wait (Temporal task queue fairness: each tier a fairness key of
   * this weight). A whole number from 1 to 1000; a tier of weight 8 gets about 8 dispatches to one of a weight-1 tier,
   * and no tier ever gets none.
   */
  gpuWeight: number;
}

export const DEFAULT_TIER = 'default';
/** Tier names: short, lower case, usable as a Temporal fairness key (at most 64 bytes) and in a header. */
export const TIER_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
export const GPU_WEIGHT_MAX = 1000;

/** The default tier with no limits and weight 1: a server or stack given no tiers. */
export const UNLIMITED_DEFAULT_TIER: Tier = { name: DEFAULT_TIER, rateLimitRequests: 0, maxActiveVideos: 0, dailyVideoSeconds: 0, gpuWeight: 1 };

export interface TierTable {
  /** The tier of that name; the default tier for a name the table no longer has (a tier removed from the file). */
  get(name: string | undefined): Tier;
  has(name: string): boolean;
  names(): string[];
  /** Whether some tier limits the request rate (none does: the rate limiter is not installed). */
  anyRateLimit(): boolean;
}

export class TiersError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TiersError';
  }
}

const FIELDS = {
  rate_limit_requests: { key: 'rateLimitRequests', min: 0, max: 1_000_000 },
  max_active_videos: { key: 'maxActiveVideos', min: 0, max: 100_000 },
  daily_video_seconds: { key: 'dailyVideoSeconds', min: 0, max: 100_000_000 },
  gpu_weight: { key: 'gpuWeight', min: 1, max: GPU_WEIGHT_MAX },
} as const satisfies Record<string, { key: keyof Omit<Tier, 'name'>; min: number; max: number }>;

export function tierTable(tiers: readonly Tier[]): TierTable {
  const byName = new Map(tiers.map((t) => [t.name, t]));
  const fallback = byName.get(DEFAULT_TIER);
  if (!fallback) throw new TiersError(`the tiers have no "${DEFAULT_TIER}" tier`);
  return {
    get: (name) => (name === undefined ? fallback : (byName.get(name) ?? fallback)),
    has: (name) => byName.has(name),
    names: () => [...byName.keys()],
    anyRateLimit: () => tiers.some((t) => t.rateLimitRequests > 0),
  };
}

/**
 * The table from TIERS_FILE's text (or none) over the default tier of the environment's settings:
 * `{"tiers": {"free": {"rate_limit_requests": 60, "max_active_videos": 1, "daily_video_seconds": 120, "gpu_weight": 1}, ...}}`.
 * A field a tier leaves out is the default tier's (its weight: 1). Anything else is a TiersError naming the field.
 */
export function parseTiers(text: string | undefined, defaults: Omit<Tier, 'name' | 'gpuWeight'>): TierTable {
  const base: Tier = { name: DEFAULT_TIER, ...defaults, gpuWeight: 1 };
  if (text === undefined) return tierTable([base]);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new TiersError(`not JSON: ${(err as Error).message}`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(doc) || !isObject(doc.tiers)) throw new TiersError('must be an object with a "tiers" object');
  const extra = Object.keys(doc).filter((k) => k !== 'tiers');
  if (extra.length > 0) throw new TiersError(`unknown field "${extra[0]}" (only "tiers")`);
  // The default tier first: the others fill their gaps from it, as redefined by the file.
  const entries = Object.entries(doc.tiers).sort(([a], [b]) => Number(b === DEFAULT_TIER) - Number(a === DEFAULT_TIER));
  let fill = base;
  const tiers: Tier[] = [];
  for (const [name, spec] of entries) {
    const at = `tiers.${name}`;
    if (!TIER_NAME.test(name)) throw new TiersError(`${at}: a tier name is 1 to 32 of a-z, 0-9, "_" and "-", starting with a letter or digit`);
    if (!isObject(spec)) throw new TiersError(`${at} must be an object`);
    const tier: Tier = { ...fill, name, gpuWeight: name === DEFAULT_TIER ? base.gpuWeight : 1 };
    for (const [field, value] of Object.entries(spec)) {
      const rule = (FIELDS as Record<string, (typeof FIELDS)[keyof typeof FIELDS]>)[field];
      if (!rule) throw new TiersError(`${at}: unknown field "${field}" (one of ${Object.keys(FIELDS).join(', ')})`);
      if (typeof value !== 'number' || !Number.isInteger(value) || value < rule.min || value > rule.max) {
        throw new TiersError(`${at}.${field} must be a whole number from ${rule.min} to ${rule.max}, not ${JSON.stringify(value)}`);
      }
      tier[rule.key] = value;
    }
    if (name === DEFAULT_TIER) fill = tier;
    tiers.push(tier);
  }
  if (!tiers.some((t) => t.name === DEFAULT_TIER)) tiers.unshift(base);
  return tierTable(tiers);
}

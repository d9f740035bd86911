// Liveness challenges for cameo registration: a phrase the person says on camera, one row per challenge in
// `app.cameo_challenges`. A challenge belongs to the user who asked for it, expires, and is spent by exactly one
// registration (the claim is one conditional UPDATE, so two uploads racing for one challenge cannot both win).
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import { parsePhrases, PHRASE_WORDS, WORDS } from '../../domain/cameo/phrases';
import type { Logger } from '../../infra/logger';
import { PgTableStore, type TableMigrations } from '../../infra/postgres/tableStore';
import type { PgPool } from '../../infra/postgres/pool';

export const DEFAULT_CHALLENGES_SCHEMA = 'app';
/** How long a phrase may be used: time to read it, record, and upload. */
export const DEFAULT_CHALLENGE_TTL_MS = 10 * 60 * 1000;

export { PHRASE_WORDS, WORDS };

/** A challenge phrase: a line of the CAMEO_PHRASES file when one is configured, else PHRASE_WORDS distinct words of WORDS. */
export function randomPhrase(words = PHRASE_WORDS, pool?: readonly string[]): string {
  if (pool && pool.length > 0) return pool[randomInt(pool.length)]!;
  const picked: string[] = [];
  // Distinct words: a repeated one is easier to mishear and adds nothing.
  while (picked.length < words) {
    const word = WORDS[randomInt(WORDS.length)]!;
    if (!picked.includes(word)) picked.push(word);
  }
  return picked.join(' ');
}

/** The phrases of the CAMEO_PHRASES file, or none (the built-in word list) when unset; a bad file throws, naming it. */
export function loadCameoPhrases(file: string | undefined): string[] | undefined {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`CAMEO_PHRASES: cannot read ${file}: ${(err as Error).message}`);
  }
  return parsePhrases(text, `CAMEO_PHRASES (${file})`);
}

export function newChallengeId(): string {
  return `chal_${randomBytes(16).toString('hex')}`;
}

export interface Challenge {
  id: string;
  userId: string;
  phrase: string;
  expiresAt: Date;
  usedAt: Date | null;
}

/** Why a challenge cannot be used for a registration; each is a 400 naming `challenge_id`. */
export type ChallengeProblem = 'unknown' | 'expired' | 'used';

export interface ChallengeStore {
  create(userId: string): Promise<Challenge>;
  /** The caller's challenge if it may be used now, else why not (another user's challenge is `unknown`). */
  check(id: string, userId: string): Promise<{ ok: true; challenge: Challenge } | { ok: false; problem: ChallengeProblem }>;
  /** Spends the challenge; false when it was spent, expired or is not the user's (a concurrent upload won it). */
  claim(id: string, userId: string): Promise<boolean>;
  /** Gives back a claimed challenge whose registration could not be started, so the user can retry with it. */
  release(id: string): Promise<void>;
  /** Forgets challenges expired for a day; returns how many. */
  purgeExpired(): Promise<number>;
}

function migrations(s: string): string[] {
  return [
    `CREATE TABLE ${s}.cameo_challenges (
       id text PRIMARY KEY,
       user_id text NOT NULL,
       phrase text NOT NULL,
       expires_at timestamptz NOT NULL,
       used_at timestamptz,
       created_at timestamptz NOT NULL DEFAULT now()
     );
     CREATE INDEX cameo_challenges_expires_at ON ${s}.cameo_challenges (expires_at);`,
  ];
}

interface Row {
  id: string;
  user_id: string;
  phrase: string;
  expires_at: Date;
  used_at: Date | null;
}

const toChallenge = (row: Row): Challenge => ({ id: row.id, userId: row.user_id, phrase: row.phrase, expiresAt: row.expires_at, usedAt: row.used_at });

export class PgChallengeStore extends PgTableStore implements ChallengeStore {
  /** The phrases challenges are drawn from (CAMEO_PHRASES); absent or empty: random words of the built-in list. */
  private phrases: readonly string[] = [];

  /** Migrates the table (safe from several replicas at once), then the store is ready. */
  static async open(options: { pool: PgPool; schema?: string; ttlMs?: number; logger?: Logger; phrases?: readonly string[] }): Promise<PgChallengeStore> {
    const store = new PgChallengeStore(options.pool, options.schema ?? DEFAULT_CHALLENGES_SCHEMA, options.ttlMs ?? DEFAULT_CHALLENGE_TTL_MS);
    store.phrases = options.phrases ?? [];
    await store.migrate(options.logger);
    return store;
  }

  // Its own bookkeeping table: the schema is shared with the users and idempotency stores.
  protected migrations(): TableMigrations {
    return { table: 'cameo_challenges_migrations', lock: 'cameo-challenges', what: 'cameo challenges', statements: migrations };
  }

  async create(userId: string): Promise<Challenge> {
    const res = await this.pool.query<Row>(
      `INSERT INTO ${this.s}.cameo_challenges (id, user_id, phrase, expires_at) VALUES ($1, $2, $3, now() + make_interval(secs => $4))
       RETURNING id, user_id, phrase, expires_at, used_at`,
      [newChallengeId(), userId, randomPhrase(PHRASE_WORDS, this.phrases), this.ttlMs / 1000],
    );
    return toChallenge(res.rows[0]!);
  }

  async check(id: string, userId: string): Promise<{ ok: true; challenge: Challenge } | { ok: false; problem: ChallengeProblem }> {
    // The database's clock judges expiry, as claim() does: the two never disagree about the same instant.
    const res = await this.pool.query<Row & { expired: boolean }>(
      `SELECT id, user_id, phrase, expires_at, used_at, expires_at <= now() AS expired FROM ${this.s}.cameo_challenges WHERE id = $1`,
      [id],
    );
    const row = res.rows[0];
    // Another user's challenge reads as unknown: challenge ids say nothing about other users.
    if (!row || row.user_id !== userId) return { ok: false, problem: 'unknown' };
    if (row.used_at) return { ok: false, problem: 'used' };
    if (row.expired) return { ok: false, problem: 'expired' };
    return { ok: true, challenge: toChallenge(row) };
  }

  async claim(id: string, userId: string): Promise<boolean> {
    const res = await this.pool.query(
      `UPDATE ${this.s}.cameo_challenges SET used_at = now() WHERE id = $1 AND user_id = $2 AND used_at IS NULL AND expires_at > now()`,
      [id, userId],
    );
    return res.rowCount === 1;
  }

  async release(id: string): Promise<void> {
    await this.pool.query(`UPDATE ${this.s}.cameo_challenges SET used_at = NULL WHERE id = $1`, [id]);
  }

  async purgeExpired(): Promise<number> {
    const res = await this.pool.query(`DELETE FROM ${this.s}.cameo_challenges WHERE expires_at < now() - interval '1 day'`);
    return res.rowCount ?? 0;
  }
}

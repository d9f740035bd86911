// Idempotency-Key for POST /v1/videos (and remixes, edits, extensions): the header, checked by idempotencyKeyOf, and
// one row per (owner, key) in `app.idempotency_keys`, inserted first, so of two concurrent requests with one key exactly
// one creates the video and the other answers it (or 409 on another body).
import type { FastifyRequest } from 'fastify';
import type { VideoRequestedData } from '../../domain/video';
import type { Logger } from '../../infra/logger';
import { PgTableStore, type TableMigrations } from '../../infra/postgres/tableStore';
import type { PgPool } from '../../infra/postgres/pool';
import { ProblemError } from '../plugins/errors';

export const DEFAULT_IDEMPOTENCY_SCHEMA = 'app';
/** Printable ASCII, as the keys clients generate (UUIDs, `stainless-node-retry-<uuid>`) are. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
/** How long a key is remembered; a key reused after this starts a new video (as Stripe's and OpenAI's keys do). */
export const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * The request's Idempotency-Key, if it has one; a 400 naming the header unless it is one value of 1 to 255 printable
 * ASCII characters. Create, remixes, edits and extensions read it alike.
 */
export function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const raw = request.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  const values = Array.isArray(raw) ? raw : [raw];
  if (values.length !== 1 || !IDEMPOTENCY_KEY.test(values[0]!)) {
    throw new ProblemError({
      status: 400,
      code: 'invalid_idempotency_key',
      detail: 'Idempotency-Key must be one value of 1 to 255 printable ASCII characters',
      errors: [{ field: 'Idempotency-Key', message: 'must be 1 to 255 printable ASCII characters, given once' }],
    });
  }
  return values[0];
}

/** 409 for a key already used with another request body, naming the video it made. */
export function idempotencyKeyReused(videoId: string): ProblemError {
  return new ProblemError({
    status: 409,
    code: 'idempotency_key_reused',
    detail: `this Idempotency-Key was used for video ${videoId} with another request body; use a new key for a new request`,
    param: 'Idempotency-Key',
  });
}

export interface IdempotencyRecord {
  videoId: string;
  requestHash: string;
  /** The request as first recorded, seed included: a replay restarts exactly this if the first attempt never did. */
  request: VideoRequestedData;
}

export type IdempotencyClaim =
  /** The key is new: this request creates the video. */
  | { outcome: 'claimed' }
  /** The key was used with the same body: answer its video. */
  | { outcome: 'replay'; record: IdempotencyRecord }
  /** The key was used with another body. */
  | { outcome: 'conflict'; record: IdempotencyRecord };

export interface IdempotencyStore {
  /** Claims `key` for this owner and request, or reports what it was used for. */
  claim(ownerId: string, key: string, requestHash: string, request: VideoRequestedData): Promise<IdempotencyClaim>;
  /** Forgets keys older than the TTL; returns how many. */
  purgeExpired(): Promise<number>;
}

function migrations(s: string): string[] {
  return [
    `CREATE TABLE ${s}.idempotency_keys (
       owner_id text NOT NULL,
       key text NOT NULL,
       -- SHA-256 of the normalized parameters and the uploaded image (api/videos/params.ts requestHash).
       request_hash text NOT NULL,
       video_id text NOT NULL,
       request jsonb NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (owner_id, key)
     );
     CREATE INDEX idempotency_keys_created_at ON ${s}.idempotency_keys (created_at);`,
  ];
}

interface Row {
  video_id: string;
  request_hash: string;
  request: VideoRequestedData;
}

export class PgIdempotencyStore extends PgTableStore implements IdempotencyStore {
  /** Migrates the table (safe from several replicas at once), then the store is ready. */
  static async open(options: { pool: PgPool; schema?: string; ttlMs?: number; logger?: Logger }): Promise<PgIdempotencyStore> {
    const store = new PgIdempotencyStore(options.pool, options.schema ?? DEFAULT_IDEMPOTENCY_SCHEMA, options.ttlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS);
    await store.migrate(options.logger);
    return store;
  }

  // Its own bookkeeping table: the schema is shared with the users store, each with its own versions.
  protected migrations(): TableMigrations {
    return { table: 'idempotency_keys_migrations', lock: 'idempotency', what: 'idempotency keys', statements: migrations };
  }

  async claim(ownerId: string, key: string, requestHash: string, request: VideoRequestedData): Promise<IdempotencyClaim> {
    // An expired row is dropped first, so the key starts afresh; the insert below then decides as for a new key.
    await this.pool.query(`DELETE FROM ${this.s}.idempotency_keys WHERE owner_id = $1 AND key = $2 AND created_at < now() - make_interval(secs => $3)`, [
      ownerId,
      key,
      this.ttlMs / 1000,
    ]);
    // Two attempts: a concurrent purge could delete the row between a lost insert and the select.
    for (let attempt = 0; attempt < 2; attempt++) {
      // ON CONFLICT DO NOTHING waits for a concurrent insert of the same key to commit, then reports the conflict:
      // the loser always sees the winner's row.
      const inserted = await this.pool.query(
        `INSERT INTO ${this.s}.idempotency_keys (owner_id, key, request_hash, video_id, request) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (owner_id, key) DO NOTHING RETURNING video_id`,
        [ownerId, key, requestHash, request.video_id, JSON.stringify(request)],
      );
      if (inserted.rowCount === 1) return { outcome: 'claimed' };
      const found = await this.pool.query<Row>(`SELECT video_id, request_hash, request FROM ${this.s}.idempotency_keys WHERE owner_id = $1 AND key = $2`, [
        ownerId,
        key,
      ]);
      const row = found.rows[0];
      if (!row) continue;
      const record = { videoId: row.video_id, requestHash: row.request_hash, request: row.request };
      return row.request_hash === requestHash ? { outcome: 'replay', record } : { outcome: 'conflict', record };
    }
    throw new Error(`idempotency key could be neither claimed nor read for owner ${ownerId}`);
  }

  async purgeExpired(): Promise<number> {
    const res = await this.pool.query(`DELETE FROM ${this.s}.idempotency_keys WHERE created_at < now() - make_interval(secs => $1)`, [this.ttlMs / 1000]);
    return res.rowCount ?? 0;
  }
}

// Webhook endpoints and their signing secrets, per user, in two tables of the API's `app` schema: `webhook_endpoints`
// (name, URL, event types, times) and `webhook_endpoint_secrets` (each secret valid for signing, with the time it stops
// being valid after a rotation that kept it for 24 h). Secrets are kept out of the event store on purpose: events are
// forever, and a secret must be forgettable. Shared by the API (the routes) and, later, the delivery activities.
import { randomBytes } from 'node:crypto';
import type { WebhookEventType } from '../../domain/webhooks/eventTypes';
import type { Logger } from '../logger';
import type { PgPool } from '../postgres/pool';
import { PgTableStore, type TableMigrations } from '../postgres/tableStore';
import { newSigningSecret } from './signing';

export const DEFAULT_WEBHOOKS_SCHEMA = 'app';
/** How long a secret replaced with keep_old_secret_active_for_24_hours still signs deliveries. */
export const OLD_SECRET_GRACE_SECONDS = 24 * 60 * 60;
/** `we_` + 32 hex digits. */
export const WEBHOOK_ENDPOINT_ID = /^we_[0-9a-f]{32}$/;

export interface WebhookEndpoint {
  id: string;
  ownerId: string;
  name: string;
  url: string;
  eventTypes: WebhookEventType[];
  /** Unix seconds. */
  createdAt: number;
  /** Unix seconds of the last change of the configuration or the secret. */
  updatedAt: number;
  /** The newest secret (what the hint is made from). */
  secret: string;
  /** Why deliveries to it stopped (they failed for the whole retry window); null while enabled. An update re-enables it. */
  disabledReason: string | null;
}

export interface EndpointChanges {
  name?: string;
  url?: string;
  eventTypes?: WebhookEventType[];
}

export interface EndpointPage {
  endpoints: WebhookEndpoint[];
  hasMore: boolean;
}

/** `after` is not one of the owner's endpoints. */
export class UnknownEndpointCursor extends Error {
  constructor(readonly after: string) {
    super(`no webhook endpoint ${after} to page after`);
    this.name = 'UnknownEndpointCursor';
  }
}

export interface WebhookEndpointStore {
  create(ownerId: string, fields: Required<EndpointChanges>): Promise<WebhookEndpoint>;
  /** The owner's endpoint, or undefined (another owner's endpoint too). */
  get(ownerId: string, id: string): Promise<WebhookEndpoint | undefined>;
  /** Newest first; `after` an id of the previous page. */
  list(ownerId: string, options: { after?: string; limit: number }): Promise<EndpointPage>;
  /** Applies the changes; updated_at advances only when one changes something. Undefined when there is no such endpoint. */
  update(ownerId: string, id: string, changes: EndpointChanges): Promise<WebhookEndpoint | undefined>;
  /** Deletes the endpoint and its secrets; false when there was none. */
  delete(ownerId: string, id: string): Promise<boolean>;
  /** A new secret; the old ones stop signing now, or in 24 h with keepOld. Undefined when there is no such endpoint. */
  rotateSecret(ownerId: string, id: string, keepOld: boolean): Promise<WebhookEndpoint | undefined>;
  /** The secrets that sign a delivery now, newest first (two for 24 h after a rotation that kept the old one). */
  signingSecrets(id: string): Promise<string[]>;
  /** An endpoint by id alone, for the deliveries (whose workflow knows no owner). */
  byId(id: string): Promise<WebhookEndpoint | undefined>;
  /** The owner's enabled endpoints subscribed to `eventType` that existed at `at` (Unix seconds), oldest first. */
  subscribed(ownerId: string, eventType: WebhookEventType, at: number): Promise<WebhookEndpoint[]>;
  /** Stops deliveries to it, with the reason shown on the endpoint; false when it no longer exists. */
  disable(id: string, reason: string): Promise<boolean>;
}

function migrations(s: string): string[] {
  return [
    `CREATE TABLE ${s}.webhook_endpoints (
       seq bigserial UNIQUE,
       id text PRIMARY KEY,
       owner_id text NOT NULL,
       name text NOT NULL,
       url text NOT NULL,
       event_types text[] NOT NULL,
       created_at bigint NOT NULL,
       updated_at bigint NOT NULL
     );
     CREATE INDEX webhook_endpoints_owner ON ${s}.webhook_endpoints (owner_id, seq);
     CREATE TABLE ${s}.webhook_endpoint_secrets (
       endpoint_id text NOT NULL REFERENCES ${s}.webhook_endpoints (id) ON DELETE CASCADE,
       seq bigserial,
       secret text NOT NULL,
       created_at bigint NOT NULL,
       -- null: valid until the next rotation; else the Unix second it stops signing.
       expires_at bigint,
       PRIMARY KEY (endpoint_id, seq)
     );`,
    // Deliveries that failed for the whole retry window disable an endpoint; an update enables it again.
    `ALTER TABLE ${s}.webhook_endpoints ADD COLUMN disabled_at bigint, ADD COLUMN disabled_reason text`,
    // Where the dispatcher (activities/webhookDispatcher.ts) is in $all: the last event it has queued deliveries for.
    `CREATE TABLE ${s}.webhook_dispatch_checkpoint (name text PRIMARY KEY, position text NOT NULL, updated_at bigint NOT NULL)`,
  ];
}

interface Row {
  id: string;
  owner_id: string;
  name: string;
  url: string;
  event_types: WebhookEventType[];
  created_at: string;
  updated_at: string;
  secret: string;
  disabled_reason: string | null;
}

const nowS = () => Math.floor(Date.now() / 1000);

export class PgWebhookEndpointStore extends PgTableStore implements WebhookEndpointStore {
  /** Migrates the tables (safe from several replicas at once), then the store is ready. */
  static async open(options: { pool: PgPool; schema?: string; logger?: Logger }): Promise<PgWebhookEndpointStore> {
    const store = new PgWebhookEndpointStore(options.pool, options.schema ?? DEFAULT_WEBHOOKS_SCHEMA, 0);
    await store.migrate(options.logger);
    return store;
  }

  protected migrations(): TableMigrations {
    return { table: 'webhook_endpoints_migrations', lock: 'webhook-endpoints', what: 'webhook endpoints', statements: migrations };
  }

  /** Each endpoint with its newest secret. */
  private select(where: string): string {
    return `SELECT e.id, e.owner_id, e.name, e.url, e.event_types, e.created_at, e.updated_at, e.disabled_reason,
              (SELECT secret FROM ${this.s}.webhook_endpoint_secrets k WHERE k.endpoint_id = e.id ORDER BY seq DESC LIMIT 1) AS secret
            FROM ${this.s}.webhook_endpoints e WHERE ${where}`;
  }

  private static toEndpoint(row: Row): WebhookEndpoint {
    return {
      id: row.id,
      ownerId: row.owner_id,
      name: row.name,
      url: row.url,
      eventTypes: row.event_types,
      createdAt: Number(row.created_at),
      updatedAt: Number(row.updated_at),
      secret: row.secret,
      disabledReason: row.disabled_reason ?? null,
    };
  }

  private async transaction<T>(work: (q: PgPool['query']) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client.query.bind(client) as PgPool['query']);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async create(ownerId: string, fields: Required<EndpointChanges>): Promise<WebhookEndpoint> {
    const id = `we_${randomBytes(16).toString('hex')}`;
    const now = nowS();
    const secret = newSigningSecret();
    await this.transaction(async (query) => {
      await query(
        `INSERT INTO ${this.s}.webhook_endpoints (id, owner_id, name, url, event_types, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)`,
        [id, ownerId, fields.name, fields.url, fields.eventTypes, now],
      );
      await query(`INSERT INTO ${this.s}.webhook_endpoint_secrets (endpoint_id, secret, created_at) VALUES ($1, $2, $3)`, [id, secret, now]);
    });
    return { id, ownerId, name: fields.name, url: fields.url, eventTypes: fields.eventTypes, createdAt: now, updatedAt: now, secret, disabledReason: null };
  }

  async get(ownerId: string, id: string): Promise<WebhookEndpoint | undefined> {
    const res = await this.pool.query<Row>(this.select('e.owner_id = $1 AND e.id = $2'), [ownerId, id]);
    return res.rows[0] && PgWebhookEndpointStore.toEndpoint(res.rows[0]);
  }

  async list(ownerId: string, options: { after?: string; limit: number }): Promise<EndpointPage> {
    let before: string | undefined;
    if (options.after !== undefined) {
      const cursor = await this.pool.query<{ seq: string }>(`SELECT seq FROM ${this.s}.webhook_endpoints WHERE owner_id = $1 AND id = $2`, [
        ownerId,
        options.after,
      ]);
      if (!cursor.rows[0]) throw new UnknownEndpointCursor(options.after);
      before = cursor.rows[0].seq;
    }
    const res = await this.pool.query<Row>(`${this.select('e.owner_id = $1 AND ($2::bigint IS NULL OR e.seq < $2::bigint)')} ORDER BY e.seq DESC LIMIT $3`, [
      ownerId,
      before ?? null,
      options.limit + 1,
    ]);
    return { endpoints: res.rows.slice(0, options.limit).map((r) => PgWebhookEndpointStore.toEndpoint(r)), hasMore: res.rows.length > options.limit };
  }

  async update(ownerId: string, id: string, changes: EndpointChanges): Promise<WebhookEndpoint | undefined> {
    // The row is locked while compared and written, so two concurrent updates each see the other's result.
    return this.transaction(async (query) => {
      const found = await query<Row>(`${this.select('e.owner_id = $1 AND e.id = $2')} FOR UPDATE OF e`, [ownerId, id]);
      const row = found.rows[0];
      if (!row) return undefined;
      const current = PgWebhookEndpointStore.toEndpoint(row);
      const next = {
        name: changes.name ?? current.name,
        url: changes.url ?? current.url,
        eventTypes: changes.eventTypes ?? current.eventTypes,
      };
      const changed = next.name !== current.name || next.url !== current.url || next.eventTypes.join('\n') !== current.eventTypes.join('\n');
      // Any update of a disabled endpoint enables it again: its owner has looked at it.
      const reenabled = current.disabledReason !== null;
      if (!changed && !reenabled) return current;
      const updatedAt = Math.max(nowS(), current.updatedAt);
      await query(
        `UPDATE ${this.s}.webhook_endpoints SET name = $2, url = $3, event_types = $4, updated_at = $5, disabled_at = NULL, disabled_reason = NULL WHERE id = $1`,
        [id, next.name, next.url, next.eventTypes, updatedAt],
      );
      return { ...current, ...next, updatedAt, disabledReason: null };
    });
  }

  async delete(ownerId: string, id: string): Promise<boolean> {
    const res = await this.pool.query(`DELETE FROM ${this.s}.webhook_endpoints WHERE owner_id = $1 AND id = $2`, [ownerId, id]);
    return (res.rowCount ?? 0) > 0;
  }

  async rotateSecret(ownerId: string, id: string, keepOld: boolean): Promise<WebhookEndpoint | undefined> {
    return this.transaction(async (query) => {
      const found = await query<Row>(`${this.select('e.owner_id = $1 AND e.id = $2')} FOR UPDATE OF e`, [ownerId, id]);
      const row = found.rows[0];
      if (!row) return undefined;
      const now = nowS();
      // Secrets already past their time are forgotten; the current ones stop now, or in 24 h.
      await query(`DELETE FROM ${this.s}.webhook_endpoint_secrets WHERE endpoint_id = $1 AND expires_at IS NOT NULL AND expires_at <= $2`, [id, now]);
      if (keepOld) {
        await query(`UPDATE ${this.s}.webhook_endpoint_secrets SET expires_at = LEAST(COALESCE(expires_at, $2::bigint), $2::bigint) WHERE endpoint_id = $1`, [
          id,
          now + OLD_SECRET_GRACE_SECONDS,
        ]);
      } else {
        await query(`DELETE FROM ${this.s}.webhook_endpoint_secrets WHERE endpoint_id = $1`, [id]);
      }
      const secret = newSigningSecret();
      await query(`INSERT INTO ${this.s}.webhook_endpoint_secrets (endpoint_id, secret, created_at) VALUES ($1, $2, $3)`, [id, secret, now]);
      const updatedAt = Math.max(now, Number(row.updated_at));
      await query(`UPDATE ${this.s}.webhook_endpoints SET updated_at = $2 WHERE id = $1`, [id, updatedAt]);
      return { ...PgWebhookEndpointStore.toEndpoint(row), secret, updatedAt };
    });
  }

  async signingSecrets(id: string): Promise<string[]> {
    const res = await this.pool.query<{ secret: string }>(
      `SELECT secret FROM ${this.s}.webhook_endpoint_secrets WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY seq DESC`,
      [id, nowS()],
    );
    return res.rows.map((r) => r.secret);
  }

  async byId(id: string): Promise<WebhookEndpoint | undefined> {
    const res = await this.pool.query<Row>(this.select('e.id = $1'), [id]);
    return res.rows[0] && PgWebhookEndpointStore.toEndpoint(res.rows[0]);
  }

  async subscribed(ownerId: string, eventType: WebhookEventType, at: number): Promise<WebhookEndpoint[]> {
    const res = await this.pool.query<Row>(
      `${this.select('e.owner_id = $1 AND $2 = ANY (e.event_types) AND e.created_at <= $3 AND e.disabled_at IS NULL')} ORDER BY e.seq`,
      [ownerId, eventType, at],
    );
    return res.rows.map((r) => PgWebhookEndpointStore.toEndpoint(r));
  }

  async disable(id: string, reason: string): Promise<boolean> {
    const res = await this.pool.query(`UPDATE ${this.s}.webhook_endpoints SET disabled_at = $2, disabled_reason = $3 WHERE id = $1`, [id, nowS(), reason]);
    return (res.rowCount ?? 0) > 0;
  }

  /** The dispatcher's checkpoint ("commit/prepare"), if it has one. */
  async dispatchCheckpoint(): Promise<string | undefined> {
    const res = await this.pool.query<{ position: string }>(`SELECT position FROM ${this.s}.webhook_dispatch_checkpoint WHERE name = 'dispatcher'`);
    return res.rows[0]?.position;
  }

  async saveDispatchCheckpoint(position: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.s}.webhook_dispatch_checkpoint (name, position, updated_at) VALUES ('dispatcher', $1, $2)
       ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = EXCLUDED.updated_at`,
      [position, nowS()],
    );
  }

  /** When the oldest endpoint was made (events before it concern nobody); undefined when there is none. */
  async earliestEndpointAt(): Promise<number | undefined> {
    const res = await this.pool.query<{ at: string | null }>(`SELECT min(created_at) AS at FROM ${this.s}.webhook_endpoints`);
    return res.rows[0]?.at === null || res.rows[0]?.at === undefined ? undefined : Number(res.rows[0].at);
  }

  /**
   * The dispatcher's lease: a session advisory lock on a connection of its own, so one process of the fleet queues
   * deliveries and the others stand by. Undefined when another holds it; release() ends the session.
   */
  async tryLeaseDispatch(): Promise<{ release(): void } | undefined> {
    const client = await this.pool.connect();
    try {
      const res = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [`reelforge-webhook-dispatcher:${this.s}`]);
      if (res.rows[0]?.ok) return { release: () => client.release(true) };
    } catch (err) {
      client.release(true);
      throw err;
    }
    client.release();
    return undefined;
  }
}

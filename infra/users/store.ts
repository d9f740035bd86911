// The users port on PostgreSQL (the read models' database): one `users` table in a configurable schema (default
// `app`), migrated at open; API keys are stored only as their SHA-256 (see keys.ts for why that hash suffices).
import pg from 'pg';
import type { Logger } from '../logger';
import { applyMigrations, quoteSchemaName } from '../postgres/migrations';
import { createPgPool, type PgPool } from '../postgres/pool';
import { devKeysPath, writeDevKeysFile } from './devKeysFile';
import { hashApiKey, looksLikeApiKey, newApiKey, newUserId } from './keys';
import { DEFAULT_TIER } from '../tiers';
import { InvalidUserError, ROLES, validateNewUser, type CreatedUser, type DevKeysResult, type NewUser, type Role, type User, type UserStore } from './port';

export interface PgUserStoreOptions {
  /** A pool to share (the API's read models pool); the store does not end it. */
  pool?: PgPool;
  /** Or a URL: the store opens its own small pool and ends it on close. */
  connectionString?: string;
  /** Schema holding the table; lets tests and several deployments share one database. */
  schema?: string;
  logger?: Logger;
}

export const DEFAULT_USERS_SCHEMA = 'app';

function migrations(s: string): string[] {
  return [
    `CREATE TABLE ${s}.users (
       id text PRIMARY KEY,
       name text NOT NULL,
       role text NOT NULL CHECK (role IN (${ROLES.map((r) => `'${r}'`).join(', ')})),
       api_key_sha256 text NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now(),
       CONSTRAINT users_api_key_sha256_unique UNIQUE (api_key_sha256)
     )`,
    // 2 (issue 18): each user's tier.
    `ALTER TABLE ${s}.users ADD COLUMN tier text NOT NULL DEFAULT '${DEFAULT_TIER}'`,
  ];
}

const quoteIdent = (name: string): string => quoteSchemaName(name, 'users schema');

interface UserRow {
  id: string;
  name: string;
  role: Role;
  tier: string;
  created_at: Date;
}

const USER_COLUMNS = 'id, name, role, tier, created_at';

function toUser(row: UserRow): User {
  return { id: row.id, name: row.name, role: row.role, tier: row.tier, createdAt: row.created_at };
}

type Queryable = pg.Pool | pg.PoolClient;

export class PgUserStore implements UserStore {
  private readonly s: string;

  private constructor(
    private readonly pool: PgPool,
    private readonly ownsPool: boolean,
    private readonly schemaName: string,
    private readonly logger: Logger | undefined,
  ) {
    this.s = quoteIdent(schemaName);
  }

  /** Runs pending migrations, then the store is ready. */
  static async open(options: PgUserStoreOptions): Promise<PgUserStore> {
    const schema = options.schema ?? DEFAULT_USERS_SCHEMA;
    quoteIdent(schema);
    let pool = options.pool;
    const ownsPool = pool === undefined;
    if (!pool) {
      if (!options.connectionString) throw new Error('the users store needs a pool or a connectionString');
      pool = createPgPool({ connectionString: options.connectionString, max: 2, logger: options.logger });
    }
    const store = new PgUserStore(pool, ownsPool, schema, options.logger);
    try {
      await store.migrate();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  private async migrate(): Promise<void> {
    await this.transaction(async (client) => {
      // Its own bookkeeping table: the schema is shared with other read models, each with its own versions.
      await applyMigrations(client, {
        schema: this.s,
        table: 'users_migrations',
        lockKey: `reelforge-migrate-users-${this.schemaName}`,
        statements: migrations(this.s),
        onApplied: (version) => this.logger?.info({ version, schema: this.schemaName }, 'users migration applied'),
      });
    });
  }

  async createUser(input: NewUser): Promise<CreatedUser> {
    return this.insertUser(this.pool, input);
  }

  async findByKey(apiKey: string): Promise<User | undefined> {
    if (!looksLikeApiKey(apiKey)) return undefined;
    const res = await this.pool.query<UserRow>(`SELECT ${USER_COLUMNS} FROM ${this.s}.users WHERE api_key_sha256 = $1`, [hashApiKey(apiKey)]);
    return res.rows[0] ? toUser(res.rows[0]) : undefined;
  }

  async findById(id: string): Promise<User | undefined> {
    const res = await this.pool.query<UserRow>(`SELECT ${USER_COLUMNS} FROM ${this.s}.users WHERE id = $1`, [id]);
    return res.rows[0] ? toUser(res.rows[0]) : undefined;
  }

  async setTier(id: string, tier: string): Promise<User | undefined> {
    const errors = validateNewUser({ name: 'x', role: 'user', tier });
    if (errors.length > 0) throw new InvalidUserError(errors);
    const res = await this.pool.query<UserRow>(`UPDATE ${this.s}.users SET tier = $2 WHERE id = $1 RETURNING ${USER_COLUMNS}`, [id, tier]);
    return res.rows[0] ? toUser(res.rows[0]) : undefined;
  }

  async ensureDevKeys(dataDir: string): Promise<DevKeysResult> {
    return this.transaction(async (client) => {
      // Without the lock, two replicas starting together would both see no users and both create a pair. With it, the
      // second waits for the first to commit, and its next statement (a fresh READ COMMITTED snapshot) sees the users.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`reelforge-dev-keys-${this.schemaName}`]);
      const any = await client.query(`SELECT 1 FROM ${this.s}.users LIMIT 1`);
      if (any.rowCount !== 0) return { created: false as const, file: devKeysPath(dataDir) };
      const admin = await this.insertUser(client, { name: 'dev-admin', role: 'admin' });
      const user = await this.insertUser(client, { name: 'dev-user', role: 'user' });
      const keys = { admin: admin.apiKey, user: user.apiKey };
      // Written before the commit: if the file cannot be written, no users are committed and the next start tries
      // again, rather than leaving users whose keys nobody has. (A failed commit after the write leaves a file with
      // unknown keys, which the next start's fresh pair overwrites.)
      const file = writeDevKeysFile(dataDir, keys);
      this.logger?.info({ file, adminId: admin.user.id, userId: user.user.id }, 'development users created');
      return { created: true as const, file, keys, admin: admin.user, user: user.user };
    });
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }

  private async insertUser(db: Queryable, input: NewUser): Promise<CreatedUser> {
    const errors = validateNewUser(input);
    if (errors.length > 0) throw new InvalidUserError(errors);
    const apiKey = newApiKey();
    const res = await db.query<UserRow>(
      `INSERT INTO ${this.s}.users (id, name, role, tier, api_key_sha256) VALUES ($1, $2, $3, $4, $5) RETURNING ${USER_COLUMNS}`,
      [newUserId(), input.name, input.role, input.tier ?? DEFAULT_TIER, hashApiKey(apiKey)],
    );
    return { user: toUser(res.rows[0]!), apiKey };
  }

  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // A connection that cannot even roll back is discarded rather than handed to the next caller.
      await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
      throw err;
    } finally {
      client.release(broken);
    }
  }
}

export function openUserStore(options: PgUserStoreOptions): Promise<UserStore> {
  return PgUserStore.open(options);
}

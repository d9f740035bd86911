// The shell of a store that keeps one table of its own, with rows that expire, in a schema it shares with other
// stores (the cameo challenges and the idempotency keys): its quoted schema, its time to live, and its migrations
// applied under a bookkeeping table and an advisory lock of its own, so several replicas can open it at once.
import type { Logger } from '../logger';
import { migrate, quoteSchemaName } from './migrations';
import type { PgPool } from './pool';

export interface TableMigrations {
  /** Its bookkeeping table in the schema (`cameo_challenges_migrations`): its own versions beside the other stores'. */
  table: string;
  /** Names its advisory lock, `reelforge-migrate-<lock>-<schema>` (`cameo-challenges`). */
  lock: string;
  /** What the log lines and a bad schema name call it (`cameo challenges`). */
  what: string;
  /** The migrations, in order, for the quoted schema. */
  statements(s: string): string[];
}

export abstract class PgTableStore {
  /** The schema, quoted for SQL. */
  protected readonly s: string;

  protected constructor(
    protected readonly pool: PgPool,
    protected readonly schema: string,
    protected readonly ttlMs: number,
  ) {
    this.s = quoteSchemaName(schema, `${this.migrations().what} schema`);
  }

  protected abstract migrations(): TableMigrations;

  /** Applies the store's migrations (safe from several replicas at once). */
  protected async migrate(logger: Logger | undefined): Promise<void> {
    const { table, lock, what, statements } = this.migrations();
    await migrate(this.pool, {
      schema: this.s,
      table,
      lockKey: `reelforge-migrate-${lock}-${this.schema}`,
      statements: statements(this.s),
      onApplied: (version) => logger?.info({ version, schema: this.schema }, `${what} migration applied`),
    });
  }
}

// `npm run projections:rebuild -- [read model ...]`: rebuilds read models (all of them by default) from position zero
// into fresh tables and swaps them in for the live ones, while the projector runs on (projections/rebuildSwap.ts).
// Prints a table of what each rebuild folded on stdout; logs go to stderr. Exit 2 for a wrong command line, 1 when
// the databases cannot be used or a rebuild fails.
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '../infra/config';
import { openEventStore, type EventStore } from '../infra/eventstore';
import { createLogger } from '../infra/logger';
import { createPgPool, pingPgPool, type PgPool } from '../infra/postgres/pool';
import { createReadModels } from '../projections/readModels';
import { rebuildAndSwap, type RebuildSwapResult } from '../projections/rebuildSwap';
import type { ReadModel } from '../projections/projection';
import { findDatabase, NoDatabaseError, redactUrl } from './database';

const USAGE = 'usage: npm run projections:rebuild -- [read model ...]   (no read model: all of them)';

/** A failure with a message for the person at the terminal; `exitCode` 2 for a wrong command line. */
class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

function chosenReadModels(argv: string[]): ReadModel[] {
  const all = createReadModels();
  const known = all.map((m) => m.name).join(', ');
  let parsed: { values: { help?: boolean }; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${USAGE}\nread models: ${known}`, 2);
  }
  if (parsed.values.help) {
    process.stdout.write(`${USAGE}\nread models: ${known}\n`);
    process.exit(0);
  }
  const names = [...new Set(parsed.positionals)];
  const unknown = names.filter((n) => !all.some((m) => m.name === n));
  if (unknown.length > 0) {
    throw new CliError(
      `unknown read model${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => JSON.stringify(n)).join(', ')}; the read models are: ${known}\n${USAGE}`,
      2,
    );
  }
  return names.length === 0 ? all : all.filter((m) => names.includes(m.name));
}

function table(results: RebuildSwapResult[]): string {
  const rows = [
    ['read model', 'events', 'parked', 'checkpoint', 'seconds'],
    ...results.map((r) => [r.readModel, String(r.events), String(r.parked), r.checkpoint, r.seconds.toFixed(2)]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  // Names left-aligned, numbers right-aligned.
  return rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const readModels = chosenReadModels(process.argv.slice(2));
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.logLevel, name: 'projections-rebuild', toStderr: true });
  let db: { url: string; from: string; eventStoreUrl?: string };
  try {
    db = findDatabase(config, 'rebuild the read models in');
  } catch (err) {
    if (err instanceof NoDatabaseError) throw new CliError(err.message, 1);
    throw err;
  }
  const hint = db.from === 'DATABASE_URL' ? '' : ' Is npm start running?';
  const eventStoreUrl = config.eventStoreUrl ?? db.eventStoreUrl ?? db.url;
  const eventStoreFrom = config.eventStoreUrl ? 'EVENTSTORE_URL' : db.from;

  let pool: PgPool | undefined;
  let eventStore: EventStore | undefined;
  try {
    pool = createPgPool({ connectionString: db.url, logger });
    await pingPgPool(pool).catch((err: unknown) => {
      throw new CliError(`cannot reach the read models database at ${redactUrl(db.url)} (from ${db.from}): ${(err as Error).message}.${hint}`, 1);
    });
    eventStore = await openEventStore({ url: eventStoreUrl, schema: config.eventStoreSchema, maxEventBytes: config.eventMaxBytes, logger }).catch(
      (err: unknown) => {
        throw new CliError(`cannot open the event store at ${redactUrl(eventStoreUrl)} (from ${eventStoreFrom}): ${(err as Error).message}.${hint}`, 1);
      },
    );
    await eventStore.ping().catch((err: unknown) => {
      throw new CliError(`the event store at ${redactUrl(eventStoreUrl)} (from ${eventStoreFrom}) does not answer: ${(err as Error).message}.${hint}`, 1);
    });
    const results = await rebuildAndSwap({ eventStore, pool, readModels, schema: config.readModelsSchema, logger }).catch((err: unknown) => {
      throw new CliError(`the rebuild failed: ${(err as Error).message}`, 1);
    });
    process.stdout.write(`read models rebuilt from position zero and swapped in (schema ${config.readModelsSchema}):\n${table(results)}\n`);
  } finally {
    await Promise.allSettled([eventStore?.close(), pool?.end()]);
  }
}

main().catch((err: unknown) => {
  if (err instanceof CliError) {
    process.stderr.write(`projections:rebuild: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`projections:rebuild: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});

// `npm run user:create -- --role user --name alice`: creates a user in the users store and prints
// `{id, name, role, api_key}` as JSON on stdout (the only time the key is shown). Errors go to stderr.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '../infra/config';
import { ROLES, validateNewUser, type Role } from '../infra/users/port';
import { openUserStore } from '../infra/users/store';

const USAGE = `usage: npm run user:create -- --role <${ROLES.join('|')}> --name <name>`;

/** A failure with a message for the person at the terminal; `exitCode` 2 for a wrong command line. */
class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

function parse(argv: string[]): { name: string; role: Role } {
  let values: { name?: string; role?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { name: { type: 'string' }, role: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${USAGE}`, 2);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const errors = validateNewUser({ name: values.name, role: values.role });
  if (errors.length > 0) throw new CliError(`${errors.map((e) => `--${e.field} ${e.message}`).join('\n')}\n${USAGE}`, 2);
  return { name: values.name!, role: values.role as Role };
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/** DATABASE_URL, else the running `npm start`'s embedded PostgreSQL, as its supervisor recorded in runtime.json. */
function databaseUrl(config: { databaseUrl: string | undefined; dataDir: string }): { url: string; from: string } {
  if (config.databaseUrl) return { url: config.databaseUrl, from: 'DATABASE_URL' };
  const file = path.join(config.dataDir, 'runtime.json');
  let runtime: { databaseUrl?: unknown; postgres?: { url?: unknown } };
  try {
    runtime = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof runtime;
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new CliError(
      missing
        ? `no database to create the user in: DATABASE_URL is not set and ${file} does not exist. Start reelforge (npm start) in another terminal, or set DATABASE_URL.`
        : `cannot read ${file}: ${(err as Error).message}`,
      1,
    );
  }
  const url = typeof runtime.databaseUrl === 'string' ? runtime.databaseUrl : typeof runtime.postgres?.url === 'string' ? runtime.postgres.url : undefined;
  if (!url) throw new CliError(`${file} names no database yet (is npm start still starting?). Wait for it, or set DATABASE_URL.`, 1);
  return { url, from: file };
}

async function main(): Promise<void> {
  const input = parse(process.argv.slice(2));
  const config = loadConfigOrExit();
  const db = databaseUrl(config);
  const users = await openUserStore({ connectionString: db.url }).catch((err: unknown) => {
    const hint = db.from === 'DATABASE_URL' ? '' : ' Is npm start running?';
    throw new CliError(`cannot use the database at ${redact(db.url)} (from ${db.from}): ${(err as Error).message}.${hint}`, 1);
  });
  try {
    const { user, apiKey } = await users.createUser(input);
    process.stdout.write(`${JSON.stringify({ id: user.id, name: user.name, role: user.role, api_key: apiKey })}\n`);
  } finally {
    await users.close();
  }
}

main().catch((err: unknown) => {
  if (err instanceof CliError) {
    process.stderr.write(`user:create: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`user:create: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});

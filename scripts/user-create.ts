// `npm run user:create -- --role user --name alice [--tier pro]`: creates a user in the users store and prints
// `{id, name, role, tier, api_key}` as JSON on stdout (the only time the key is shown). Errors go to stderr. The tier
// must be one this deployment defines (TIERS_FILE, or `default`).
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '../infra/config';
import { ROLES, validateNewUser, type Role } from '../infra/users/port';
import { openUserStore } from '../infra/users/store';
import { findDatabase, NoDatabaseError, redactUrl } from './database';

const USAGE = `usage: npm run user:create -- --role <${ROLES.join('|')}> --name <name> [--tier <tier>]`;

/** A failure with a message for the person at the terminal; `exitCode` 2 for a wrong command line. */
class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

function parse(argv: string[]): { name: string; role: Role; tier?: string } {
  let values: { name?: string; role?: string; tier?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { name: { type: 'string' }, role: { type: 'string' }, tier: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${USAGE}`, 2);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const errors = validateNewUser({ name: values.name, role: values.role, tier: values.tier });
  if (errors.length > 0) throw new CliError(`${errors.map((e) => `--${e.field} ${e.message}`).join('\n')}\n${USAGE}`, 2);
  return { name: values.name!, role: values.role as Role, ...(values.tier !== undefined ? { tier: values.tier } : {}) };
}

async function main(): Promise<void> {
  const input = parse(process.argv.slice(2));
  const config = loadConfigOrExit();
  if (input.tier !== undefined && !config.tiers.has(input.tier)) {
    throw new CliError(`--tier "${input.tier}" is not a tier of this deployment; the tiers are ${config.tiers.names().join(', ')} (TIERS_FILE)\n${USAGE}`, 2);
  }
  let db: { url: string; from: string };
  try {
    db = findDatabase(config, 'create the user in');
  } catch (err) {
    if (err instanceof NoDatabaseError) throw new CliError(err.message, 1);
    throw err;
  }
  const users = await openUserStore({ connectionString: db.url }).catch((err: unknown) => {
    const hint = db.from === 'DATABASE_URL' ? '' : ' Is npm start running?';
    throw new CliError(`cannot use the database at ${redactUrl(db.url)} (from ${db.from}): ${(err as Error).message}.${hint}`, 1);
  });
  try {
    const { user, apiKey } = await users.createUser(input);
    process.stdout.write(`${JSON.stringify({ id: user.id, name: user.name, role: user.role, tier: user.tier, api_key: apiKey })}\n`);
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

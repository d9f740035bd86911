// The container image's entry point (deploy/container/Containerfile).
//   (no command)              the role named by ROLES, in this process: PID 1 of its container, so the runtime's
//                             SIGTERM reaches it directly and its drain (SHUTDOWN_GRACE_SECONDS) runs as on any host.
//                             Several roles in ROLES go to the supervisor of `npm start` (scripts/start.ts), which
//                             then needs TEMPORAL_ADDRESS and DATABASE_URL (an image has no servers of its own).
//   migrate                   applies the schema migrations and exits (scripts/migrate.ts): the migrate job.
//   user-create --role R --name N   creates a user and prints its API key once (scripts/user-create.ts).
import path from 'node:path';
import { loadConfigOrExit } from '../infra/config';
import { ROLE_FILES } from '../infra/roles';
import { PROJECT_ROOT } from '../infra/tools';

const COMMANDS: Readonly<Record<string, string>> = {
  migrate: 'scripts/migrate.ts',
  'user-create': 'scripts/user-create.ts',
};
const USAGE = `usage: (no command: run the roles in ROLES) | ${Object.keys(COMMANDS).join(' | ')} [arguments]`;

function entryPoint(): string {
  const [command, ...rest] = process.argv.slice(2);
  if (command !== undefined) {
    const file = COMMANDS[command];
    if (!file) {
      process.stderr.write(`reelforge: unknown command ${JSON.stringify(command)}\n${USAGE}\n`);
      process.exit(2);
    }
    // The command's own parser reads process.argv.slice(2).
    process.argv.splice(2, process.argv.length - 2, ...rest);
    return file;
  }
  const config = loadConfigOrExit();
  if (config.roles.length === 1) return ROLE_FILES[config.roles[0]!];
  const missing = [!config.temporalAddress && 'TEMPORAL_ADDRESS', !config.databaseUrl && 'DATABASE_URL'].filter(Boolean);
  if (missing.length > 0) {
    process.stderr.write(
      `reelforge: ROLES=${config.roles.join(',')} in one container needs ${missing.join(' and ')}: the image starts no Temporal or ` +
        'PostgreSQL of its own. Run one role per container (ROLES=api, orchestration-worker, gpu-worker or projector), or set them.\n',
    );
    process.exit(2);
  }
  return 'scripts/start.ts';
}

void import(path.join(PROJECT_ROOT, entryPoint()));

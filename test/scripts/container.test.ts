// The container image's entry point (scripts/container.ts): the role named by ROLES in the process itself, or a
// command; what it cannot run, it refuses with one line saying why. (deploy:verify runs the image itself.)
import { runScript } from '../support/processes';

describe('the container entry point', () => {
  it('refuses an unknown command, listing the ones it has', async () => {
    const run = await runScript('scripts/container.ts', ['serve']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('reelforge: unknown command "serve"\nusage: (no command: run the roles in ROLES) | migrate | user-create [arguments]\n');
  });

  it('runs several roles in one container only with a Temporal and a PostgreSQL to join', async () => {
    const run = await runScript('scripts/container.ts', [], { ROLES: 'api,projector', TEMPORAL_ADDRESS: undefined, DATABASE_URL: undefined });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^reelforge: ROLES=api,projector in one container needs TEMPORAL_ADDRESS and DATABASE_URL: the image starts no Temporal or PostgreSQL/,
    );
  });

  it('passes a command its own arguments', async () => {
    const run = await runScript('scripts/container.ts', ['user-create', '--role', 'wizard', '--name', 'x']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^user:create: --role /);
  });
});

// Which servers a host starts for the roles placed on it, and which hosts cannot join anything.
import { loadConfig } from '../../infra/config';
import { HostPlanError, planHost } from '../../infra/roles';

const plan = (env: Record<string, string>) => planHost(loadConfig(env));
const TEMPORAL = { TEMPORAL_ADDRESS: '10.0.0.1:7233' };
const DATABASE = { DATABASE_URL: 'postgres://u@10.0.0.1:5432/db' };

describe('planHost', () => {
  it('starts both embedded servers for every role when nothing is set (npm start as before)', () => {
    expect(plan({})).toMatchObject({ needsTemporal: true, needsPostgres: true, startTemporal: true, startPostgres: true });
  });

  it('starts nothing on a GPU-worker host that is told where Temporal is (it needs no PostgreSQL, even when DATABASE_URL is set)', () => {
    expect(plan({ ROLES: 'gpu-worker', ...TEMPORAL })).toMatchObject({ needsPostgres: false, startTemporal: false, startPostgres: false });
    expect(plan({ ROLES: 'gpu-worker', ...TEMPORAL, ...DATABASE })).toMatchObject({ needsPostgres: false, startTemporal: false, startPostgres: false });
  });

  it.each(['gpu-worker', 'api', 'api,projector'])('refuses ROLES=%s without TEMPORAL_ADDRESS: only the orchestration host runs the dev server', (roles) => {
    expect(() => plan({ ROLES: roles })).toThrow(HostPlanError);
    expect(() => plan({ ROLES: roles })).toThrow(/TEMPORAL_ADDRESS is unset: set TEMPORAL_ADDRESS to the Temporal server of the cluster this host joins/);
  });

  it('starts the dev server on the orchestration host, and PostgreSQL where a role uses it and DATABASE_URL is unset', () => {
    expect(plan({ ROLES: 'api,orchestration-worker,projector' })).toMatchObject({ startTemporal: true, startPostgres: true });
    expect(plan({ ROLES: 'orchestration-worker', ...DATABASE })).toMatchObject({ startTemporal: true, startPostgres: false });
    // The orchestration worker's events go to EVENTSTORE_URL: no PostgreSQL for it.
    expect(plan({ ROLES: 'orchestration-worker', EVENTSTORE_URL: 'kurrentdb://10.0.0.2:2113' })).toMatchObject({ needsPostgres: false, startPostgres: false });
    // The projector needs no Temporal.
    expect(plan({ ROLES: 'projector', ...DATABASE })).toMatchObject({ needsTemporal: false, startTemporal: false, startPostgres: false });
  });
});

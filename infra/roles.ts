// What each role must reach, and from that what a host running some of the roles (ROLES) has to start itself, find
// through the environment, or cannot do without. `npm start` plans its host with it; docs/architecture.md has the table.
import type { Config, Role } from './config';

export interface RoleNeeds {
  /** A Temporal server (TEMPORAL_ADDRESS, or the dev server `npm start` runs). */
  temporal: boolean;
  /** The event store (EVENTSTORE_URL, else the PostgreSQL of DATABASE_URL). */
  eventStore: boolean;
  /** The read models' PostgreSQL (DATABASE_URL): the projector writes it, the API reads it and keeps its own tables there. */
  readModels: boolean;
  /** The blob store: uploads, rendered chunks, MP4s. */
  blobs: boolean;
}

export const ROLE_NEEDS: Readonly<Record<Role, RoleNeeds>> = {
  api: { temporal: true, eventStore: true, readModels: true, blobs: true },
  'orchestration-worker': { temporal: true, eventStore: true, readModels: false, blobs: true },
  'gpu-worker': { temporal: true, eventStore: false, readModels: false, blobs: true },
  projector: { temporal: false, eventStore: true, readModels: true, blobs: false },
};

/** Each role's entry point, relative to the project root (`npm start` and the container image run these). */
export const ROLE_FILES: Readonly<Record<Role, string>> = {
  api: 'api/main.ts',
  'orchestration-worker': 'activities/worker.ts',
  'gpu-worker': 'gpu-workers/worker.ts',
  projector: 'projections/main.ts',
};

export interface HostPlan {
  roles: Role[];
  /** Some role here talks to Temporal. */
  needsTemporal: boolean;
  /** Some role here uses the PostgreSQL of DATABASE_URL (read models, or the event store when EVENTSTORE_URL is unset). */
  needsPostgres: boolean;
  /** Start the Temporal dev server: Temporal is needed, TEMPORAL_ADDRESS is unset and the orchestration worker runs here. */
  startTemporal: boolean;
  /** Start the embedded PostgreSQL: PostgreSQL is needed and DATABASE_URL is unset. */
  startPostgres: boolean;
}

/** A host that cannot be started as configured: the message says what to set. */
export class HostPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostPlanError';
  }
}

/**
 * The servers a host starts for the roles placed on it. The Temporal dev server belongs to the host that runs the
 * orchestration worker (the workflows live there); any other host that needs Temporal joins one and must be told
 * where it is. Throws HostPlanError when it cannot.
 */
export function planHost(config: Pick<Config, 'roles' | 'temporalAddress' | 'databaseUrl' | 'eventStoreUrl'>): HostPlan {
  const roles = config.roles;
  const needs = (what: keyof RoleNeeds): Role[] => roles.filter((role) => ROLE_NEEDS[role][what]);
  const needsTemporal = needs('temporal').length > 0;
  const needsPostgres = needs('readModels').length > 0 || (needs('eventStore').length > 0 && !config.eventStoreUrl);
  const startTemporal = needsTemporal && !config.temporalAddress;
  if (startTemporal && !roles.includes('orchestration-worker')) {
    throw new HostPlanError(
      `ROLES=${roles.join(',')} needs a Temporal server (${needs('temporal').join(', ')}) but TEMPORAL_ADDRESS is unset: set TEMPORAL_ADDRESS to ` +
        'the Temporal server of the cluster this host joins (a host starts the Temporal dev server only when it runs the orchestration-worker role)',
    );
  }
  return { roles, needsTemporal, needsPostgres, startTemporal, startPostgres: needsPostgres && !config.databaseUrl };
}

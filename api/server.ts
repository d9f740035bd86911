// The Fastify app: one plugin per concern (request ids, errors, metrics, auth, OpenAPI) and one per resource, built
// from the dependencies it is given so tests run it against the real stack. Listening is the caller's job.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import multipart from '@fastify/multipart';
import type { EventStore } from '../infra/eventstore/port';
import type { Logger } from '../infra/logger';
import { blobStoreCheck } from '../infra/health';
import { pingPgPool, type PgPool } from '../infra/postgres/pool';
import type { TemporalClient } from '../infra/temporal/connection';
import type { WorkflowCode } from '../infra/temporal/replay';
import type { UserStore } from '../infra/users/port';
import { version } from '../package.json';
import type { CameosRoutesOptions } from './cameos/context';
import { authPlugin } from './plugins/auth';
import { createFollowsQuery } from '../projections/queries';
import { tierTable, UNLIMITED_DEFAULT_TIER, type TierTable } from '../infra/tiers';
import { rateLimitsPlugin, type RateLimitOptions } from './plugins/rateLimit';
import { clientErrorHandler, errorsPlugin } from './plugins/errors';
import { metricsPlugin } from './plugins/metrics';
import { tracingPlugin } from './plugins/tracing';
import { openapiPlugin } from './plugins/openapi';
import { REQUEST_ID_LOG_LABEL, requestIdOf, requestIdPlugin } from './plugins/requestId';
import { textPlugin } from './plugins/text';
import { cameosRoutes } from './routes/cameos';
import { debugRoutes } from './routes/debug';
import { engagementRoutes } from './routes/engagement';
import { moderationRoutes } from './routes/moderation';
import { operationsRoutes } from './routes/operations';
import { remixRoutes } from './routes/remix';
import { usersRoutes } from './routes/users';
import { videosRoutes } from './routes/videos';
import { webhookEndpointsRoutes, type WebhookEndpointsRoutesOptions } from './routes/webhookEndpoints';
import type { VideosRoutesOptions } from './videos/context';
import { createViewCounter } from './videos/views';

/** The largest input_reference image, unless the videos config says otherwise. */
export const DEFAULT_INPUT_REFERENCE_MAX_BYTES = 10 * 1024 * 1024;

export interface ServerDeps {
  logger: Logger;
  eventStore: EventStore;
  temporal: TemporalClient;
  /** The read models' database. */
  readModels: PgPool;
  /** The read models' schema (READMODELS_SCHEMA; default `readmodels`): the follows and the feed are read there. */
  readModelsSchema?: string;
  /**
   * Users and their API keys. Absent (tests of other concerns), no key is valid: every /v1 route answers 401, so
   * leaving it out fails closed.
   */
  users?: UserStore;
  /** How long /readyz waits for each dependency. */
  readinessTimeoutMs?: number;
  /** The Videos resource (blob store, read model, idempotency store, config); absent, its routes are not served. */
  videos?: Omit<VideosRoutesOptions, 'temporal' | 'eventStore' | 'tiers'>;
  /**
   * The Cameos resource (blob store, challenge store, the videos read model, config) and follows; absent, their routes
   * are not served.
   */
  cameos?: Omit<CameosRoutesOptions, 'temporal' | 'eventStore' | 'users' | 'follows'>;
  /**
   * Likes, lineage, the feed and view counting, over the read models in `schema` (default `readmodels`); served with
   * the Videos resource. Absent, those routes are not served and views are not counted.
   */
  engagement?: { schema?: string; viewWindowMs?: number; viewFlushMs?: number; feedCursorTtlSeconds?: number };
  /** Webhook endpoints (their store and the SSRF policy of WEBHOOK_ALLOWED_HOSTS); absent, their routes are not served. */
  webhooks?: WebhookEndpointsRoutesOptions;
  /** The debugging endpoints (admin): the workflow code replays run against. Absent, they are not served. */
  debug?: { workflowCode: () => Promise<WorkflowCode> };
  /** The registry GET /metrics serves (the API process's, its event store's appends measured in it); absent, a new one. */
  metrics?: Registry;
  /** A span per request (OTEL_EXPORTER_OTLP_ENDPOINT set): api/plugins/tracing.ts. */
  tracing?: boolean;
  /** Requests per caller per window, by tier (RATE_LIMIT_WINDOW_SECONDS, the tiers' rates); absent: no limit. */
  rateLimit?: RateLimitOptions;
  /** The tiers users belong to (TIERS_FILE and the default tier's settings); absent: one `default` tier without limits. */
  tiers?: TierTable;
}

const UNLIMITED: TierTable = tierTable([UNLIMITED_DEFAULT_TIER]);

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // Typed as the base logger so the app is a plain FastifyInstance that route plugins accept.
    loggerInstance: deps.logger as FastifyBaseLogger,
    genReqId: requestIdOf,
    logController: new LogController({ requestIdLogLabel: REQUEST_ID_LOG_LABEL }),
    // Request bodies up to the largest event we would accept, plus envelope.
    bodyLimit: 2 * 1024 * 1024,
    // Requests Node's parser refuses (a NUL in a header) answer problem+json naming the header, like any other 400.
    clientErrorHandler,
  });

  await app.register(requestIdPlugin);
  await app.register(errorsPlugin);
  await app.register(textPlugin);
  await app.register(metricsPlugin, { registry: deps.metrics });
  if (deps.tracing) await app.register(tracingPlugin);
  const users = deps.users ?? noUsers;
  // Before the OpenAPI plugin and every route: its onRoute hook marks the /v1 routes as needing a key.
  await app.register(authPlugin, { users });
  if (deps.rateLimit) await app.register(rateLimitsPlugin, deps.rateLimit);
  await app.register(openapiPlugin, { version });
  // multipart/form-data, as the OpenAI SDKs send video requests. Parts are read by the routes (request.parts()), so an
  // upload is bounded while it streams in: one file, a handful of short fields.
  await app.register(multipart, {
    limits: {
      fileSize: deps.videos?.config.inputReferenceMaxBytes ?? DEFAULT_INPUT_REFERENCE_MAX_BYTES,
      files: 1,
      fields: 32,
      fieldSize: 64 * 1024,
      fieldNameSize: 100,
      parts: 40,
    },
  });

  const blobs = deps.videos?.blobs ?? deps.cameos?.blobs;
  await app.register(operationsRoutes, {
    checkTimeoutMs: deps.readinessTimeoutMs,
    checks: {
      temporal: () => deps.temporal.ping(deps.readinessTimeoutMs),
      eventstore: () => deps.eventStore.ping(),
      readmodels: () => pingPgPool(deps.readModels),
      ...(blobs ? { blobs: blobStoreCheck(blobs) } : {}),
    },
  });
  const tiers = deps.tiers ?? UNLIMITED;
  const follows = createFollowsQuery(deps.readModels, { schema: deps.readModelsSchema ?? deps.engagement?.schema });
  await app.register(usersRoutes, { users, tiers });
  // Views are batched in memory and flushed on close, after the last request has been answered.
  const views =
    deps.videos && deps.engagement
      ? createViewCounter({ eventStore: deps.eventStore, logger: deps.logger, windowMs: deps.engagement.viewWindowMs, flushMs: deps.engagement.viewFlushMs })
      : undefined;
  if (views) app.addHook('onClose', () => views.close());
  if (deps.videos) await app.register(videosRoutes, { ...deps.videos, tiers, temporal: deps.temporal, eventStore: deps.eventStore, views });
  if (deps.videos && deps.engagement) {
    await app.register(engagementRoutes, {
      eventStore: deps.eventStore,
      db: deps.readModels,
      schema: deps.engagement.schema ?? deps.readModelsSchema,
      readModel: deps.videos.readModel,
      follows,
      ...(deps.engagement.feedCursorTtlSeconds !== undefined ? { feedCursorTtlSeconds: deps.engagement.feedCursorTtlSeconds } : {}),
    });
  }
  if (deps.videos) {
    await app.register(moderationRoutes, {
      temporal: deps.temporal,
      eventStore: deps.eventStore,
      db: deps.readModels,
      ...((deps.readModelsSchema ?? deps.engagement?.schema) ? { schema: (deps.readModelsSchema ?? deps.engagement?.schema)! } : {}),
      config: deps.videos.config,
    });
  }
  if (deps.videos) await app.register(remixRoutes, { ...deps.videos, tiers, temporal: deps.temporal, eventStore: deps.eventStore });
  if (deps.cameos) await app.register(cameosRoutes, { ...deps.cameos, temporal: deps.temporal, eventStore: deps.eventStore, users, follows });
  if (deps.webhooks) await app.register(webhookEndpointsRoutes, deps.webhooks);
  if (deps.debug) await app.register(debugRoutes, { ...deps.debug, temporal: deps.temporal, eventStore: deps.eventStore });
  return app;
}

/** The stand-in when no users store is given: knows no key, so authentication refuses everyone. */
const noUsers: UserStore = {
  findByKey: async () => undefined,
  findById: async () => undefined,
  setTier: async () => undefined,
  createUser: async () => {
    throw new Error('no users store configured');
  },
  ensureDevKeys: async () => {
    throw new Error('no users store configured');
  },
  close: async () => undefined,
};

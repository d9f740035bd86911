// The whole platform in one process, over HTTP: the API server, the orchestration worker (workflow bundle and real
// activities), a GPU worker with the given engine, the videos projector, the event store and the users, on a Temporal
// server and a PostgreSQL given by address, each store in fresh schemas dropped on stop. Shared by the API tests
// (test/support/apiStack.ts) and `npm run bench:pipeline`.
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities } from '../../activities';
import type { PromptPolicy } from '../../domain/moderation/promptPolicy';
import { DEFAULT_POLICY_PATH, loadPolicy } from '../../activities/moderation';
import { loadCameoPhrases, PgChallengeStore } from '../../api/cameos/challenges';
import { buildServer } from '../../api/server';
import { PgIdempotencyStore } from '../../api/videos/idempotency';
import { createVideoReadModel } from '../../api/videos/readModel';
import { Registry } from 'prom-client';
import { createGpuActivities, gpuWorkerOptions } from '../../gpu-workers/activities';
import type { Engine } from '../../gpu-workers/engine/engine';
import { inferenceMeter, meteredEngine, meteredSafety } from '../../gpu-workers/engine/metered';
import { createSafetyClassifier, resolveSafetyModel } from '../../gpu-workers/engine/safety';
import { FsBlobStore } from '../../infra/blobs';
import { PgEventStore } from '../../infra/eventstore/postgres';
import { DEFAULT_WATERMARK, type WatermarkSettings } from '../../infra/config';
import { createLogger, type Logger } from '../../infra/logger';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { createContentCredentials } from '../../infra/provenance/c2pa';
import { ensureDevSigningChain } from '../../infra/provenance/devChain';
import { loadConfig } from '../../infra/config';
import { createPgPool } from '../../infra/postgres/pool';
import { startScript } from '../bench/child';
import { scrapeInferenceSeconds } from '../bench/gpuMetrics';
import { connectTemporalClient } from '../../infra/temporal/connection';
import { PgWebhookEndpointStore } from '../../infra/webhooks/store';
import { WebhookDispatcher } from '../../activities/webhookDispatcher';
import type { CreatedUser, Role } from '../../infra/users/port';
import { openUserStore } from '../../infra/users/store';
import { DEFAULT_TIER, tierTable, UNLIMITED_DEFAULT_TIER, type Tier } from '../../infra/tiers';
import { ProjectionRunner } from '../../projections/runner';
import { createReadModels } from '../../projections/readModels';
import { migrateStore } from '../../projections/store';

export interface PlatformStackOptions {
  /** host:port of the Temporal front end. */
  temporalAddress: string;
  temporalNamespace?: string;
  /** The workers' connection; absent, the stack opens (and closes) its own with the SDK's default runtime. */
  connection?: NativeConnection;
  /** PostgreSQL for the event store, the users, the idempotency keys and the read models. */
  databaseUrl: string;
  workflowBundle: WorkflowBundleOption;
  /**
   * The GPU worker: in this process with this engine, or (`'process'`) as its own process running
   * gpu-workers/worker.ts, as `npm start` and production run it. Inference runs on the JavaScript thread of the
   * process that hosts it, so in-process it holds up the API, the orchestration worker and the projector while each
   * slice renders; its own process keeps them apart, as deployed. `'none'`: no GPU worker, so videos are queued and
   * never rendered (the API fuzz run, which must not spend the CPU on renders).
   */
  engine: Engine | 'process' | 'none';
  /** An existing folder for the blobs; returned as `dataDir`, left in place on stop. */
  dataDir: string;
  /** Prefix of the schemas and task queues, so concurrent stacks on one server do not meet. */
  name?: string;
  /**
   * The GPU worker as gpu-workers/worker.ts runs it: this many activities at once (GPU_CONCURRENCY) and heartbeats
   * throttled to 1 s. Absent: the SDK's defaults, as the API tests have always run it.
   */
  gpuConcurrency?: number;
  /** CAMEO_PHRASES: a file of the phrases cameo challenges ask for; absent, the built-in word list. */
  cameoPhrasesFile?: string;
  /** Chunks the GPU worker renders ahead (GPU_LOOKAHEAD_CHUNKS); its default when absent. */
  gpuLookaheadChunks?: number;
  /** The GPU worker's visible mark (WATERMARK*), in process or not; absent, a deployment's default (on, bottom-right). */
  watermark?: WatermarkSettings | 'off';
  /** The GPU worker process (engine 'process') limited to these CPUs (a taskset list), with one inference thread per core. */
  gpuCores?: { cpus: string; count: number };
  /** The event store's subscription poll interval (the projector's wake-up when no append wakes it). */
  eventStorePollIntervalMs?: number;
  /** `false`: no projector, so the read models stay empty (what the API answers while they lag). Default: one runs. */
  projector?: boolean;
  /** Webhooks: the hosts exempt from the URL rules (default 127.0.0.1: the tests' receivers) and the retries. */
  webhooks?: { allowedHosts?: string[]; retry?: { firstSeconds: number; windowSeconds: number } };
  ffmpegPath?: string;
  /** VIDEO_RETENTION_SECONDS of the stack's API (seconds from completion to the content's deletion); default 0: kept. */
  retentionSeconds?: number;
  /**
   * The tiers of the stack's API (TIERS_FILE and the default tier's settings); a `default` tier without limits is
   * added when the list has none. Absent: one unlimited `default` tier.
   */
  tiers?: Tier[];
  /** The moderation policy of the orchestration worker (MODERATION_POLICY's); absent, the shipped one. */
  policy?: PromptPolicy;
  /** For the components; silent by default. */
  logger?: Logger;
}

/** The stack's tiers: those given, and an unlimited `default` when they have none. */
function stackTiers(tiers: Tier[]) {
  return tierTable(tiers.some((t) => t.name === DEFAULT_TIER) ? tiers : [UNLIMITED_DEFAULT_TIER, ...tiers]);
}

/** The largest cameo recording the stack's API accepts. */
export const RECORDING_MAX_BYTES = 4 * 1024 * 1024;

export interface PlatformStack {
  url: string;
  eventStore: PgEventStore;
  blobs: FsBlobStore;
  dataDir: string;
  taskQueue: string;
  gpuTaskQueue: string;
  /**
   * Seconds the GPU worker has spent inside inference so far (engine calls and safety scoring, summed over concurrent
   * calls): its own process's `reelforge_gpu_inference_seconds_total`, or the same meter around the in-process engine.
   */
  gpuInferenceSeconds(): Promise<number>;
  /** A new user (and key) of this role (default `user`) and tier (default `default`). */
  user(name: string, role?: Role, tier?: string): Promise<CreatedUser>;
  stop(): Promise<void>;
}

export async function startPlatformStack(options: PlatformStackOptions): Promise<PlatformStack> {
  const name = options.name ?? 'stack';
  const suffix = randomUUID().replace(/-/g, '').slice(0, 10);
  const schemas = { events: `${name}_es_${suffix}`, app: `${name}_app_${suffix}`, readModels: `${name}_rm_${suffix}` };
  const namespace = options.temporalNamespace ?? 'default';
  const logger = options.logger ?? createLogger({ level: 'silent', name });
  const ffmpeg = createFfmpeg({ ffmpegPath: options.ffmpegPath });
  // Every mux signs content credentials: with the configured chain (C2PA_SIGNING_*, as the tests set it), else a
  // development chain of the stack's own beside its data (a bench, the fixtures' recording).
  const configured = loadConfig();
  const dev = configured.c2paSigningKeyPath ? undefined : ensureDevSigningChain(path.join(options.dataDir, 'c2pa'));
  const contentCredentials = createContentCredentials(
    dev ? { ...configured, c2paSigningKeyPath: dev.keyPath, c2paSigningCertsPath: dev.certsPath } : configured,
  );

  // Each part registers its release as soon as it exists: a start that fails half-way leaves nothing running.
  const releases: { what: string; run: () => Promise<unknown> }[] = [];
  const release = async () => {
    const errors: unknown[] = [];
    for (const step of releases.splice(0).reverse())
      await step.run().catch((err: unknown) => errors.push(new Error(`${step.what}: ${(err as Error)?.message ?? String(err)}`)));
    if (errors.length > 0) throw new AggregateError(errors, `the stack did not stop cleanly: ${errors.map((e) => (e as Error).message).join('; ')}`);
  };

  try {
    const pool = createPgPool({ connectionString: options.databaseUrl, max: 12, logger });
    releases.push({ what: 'read models pool', run: () => pool.end() });
    // Registered before the stores create them, so a failure half-way still drops every schema.
    releases.push({
      what: 'schemas',
      run: async () => {
        for (const schema of Object.values(schemas)) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      },
    });
    const eventStore = await PgEventStore.open({
      connectionString: options.databaseUrl,
      schema: schemas.events,
      maxEventBytes: 1024 * 1024,
      ...(options.eventStorePollIntervalMs !== undefined ? { pollIntervalMs: options.eventStorePollIntervalMs } : {}),
    });
    releases.push({ what: 'event store', run: () => eventStore.close() });
    const users = await openUserStore({ pool, schema: schemas.app });
    const idempotency = await PgIdempotencyStore.open({ pool, schema: schemas.app });
    const challenges = await PgChallengeStore.open({ pool, schema: schemas.app, phrases: loadCameoPhrases(options.cameoPhrasesFile) });
    const webhookStore = await PgWebhookEndpointStore.open({ pool, schema: schemas.app });
    const webhookPolicy = { allowedHosts: options.webhooks?.allowedHosts ?? ['127.0.0.1'] };
    const webhookRetry = options.webhooks?.retry ?? { firstSeconds: 30, windowSeconds: 72 * 3600 };
    const projector = new ProjectionRunner({
      eventStore,
      pool,
      schema: schemas.readModels,
      readModels: createReadModels(),
      logger: logger.child({ component: 'projector' }),
    });
    if (options.projector !== false) {
      await projector.start();
      releases.push({ what: 'projector', run: () => projector.stop() });
    } else {
      // The read models' tables, empty: as a projector far behind leaves them.
      await migrateStore(pool, schemas.readModels);
      for (const model of createReadModels()) await model.migrate(pool, schemas.readModels);
    }

    const blobs = new FsBlobStore(path.join(options.dataDir, 'blobs'));
    const temporal = connectTemporalClient({ temporalAddress: options.temporalAddress, temporalDevPort: 0, temporalNamespace: namespace });
    releases.push({ what: 'Temporal client', run: () => temporal.close() });
    const activities = createActivities({
      eventStore,
      blobs,
      ffmpeg,
      contentCredentials,
      // The pack the in-process engine loaded (maybe another folder than MODEL_PACK), else the configured one.
      modelPack: typeof options.engine === 'object' ? options.engine.pack.dir : configured.modelPack,
      policy: options.policy ?? loadPolicy(DEFAULT_POLICY_PATH),
      logger: logger.child({ component: 'activities' }),
      temporal: () => temporal.client,
      webhooks: { store: webhookStore, policy: webhookPolicy },
    });
    const taskQueue = `${name}-${suffix}`;
    const gpuTaskQueue = `${name}-gpu-${suffix}`;
    let connection = options.connection;
    if (!connection) {
      const own = await NativeConnection.connect({ address: options.temporalAddress });
      releases.push({ what: 'Temporal worker connection', run: () => own.close() });
      connection = own;
    }
    const orchestration = await Worker.create({ connection, namespace, taskQueue, workflowBundle: options.workflowBundle, activities });
    // The in-process GPU worker metered as gpu-workers/worker.ts meters its own (a registry nobody scrapes: the bench
    // reads the meter directly).
    const meter = inferenceMeter({ registry: new Registry(), concurrency: options.gpuConcurrency ?? 1 });
    const engine = options.engine === 'process' || options.engine === 'none' ? options.engine : meteredEngine(options.engine, meter);
    // The in-process GPU worker's safety classifier, as gpu-workers/worker.ts loads it (the bootstrap's model).
    const classifier =
      engine === 'process' || engine === 'none'
        ? undefined
        : await createSafetyClassifier({
            modelPath: resolveSafetyModel(undefined),
            provider: engine.provider,
            threads: engine.report.threads,
            logger: logger.child({ component: 'safety' }),
          });
    if (classifier) releases.push({ what: 'safety classifier', run: () => classifier.close() });
    const safety = classifier && meteredSafety(classifier, meter);
    const gpu =
      engine === 'process' || engine === 'none'
        ? undefined
        : await Worker.create({
            connection,
            namespace,
            taskQueue: gpuTaskQueue,
            activities: createGpuActivities({
              engine,
              blobs,
              ffmpeg,
              ...(safety ? { safety } : {}),
              logger: logger.child({ component: 'gpu' }),
              concurrency: options.gpuConcurrency,
              lookaheadChunks: options.gpuLookaheadChunks,
              watermark: options.watermark ?? DEFAULT_WATERMARK,
            }),
            ...(options.gpuConcurrency !== undefined ? gpuWorkerOptions(options.gpuConcurrency) : {}),
          });
    const workers = Promise.all([orchestration.run(), gpu?.run()]);
    const dispatcher = new WebhookDispatcher({
      eventStore,
      store: webhookStore,
      temporal: () => temporal.client,
      taskQueue,
      retry: webhookRetry,
      logger: logger.child({ component: 'webhook-dispatcher' }),
      retryMs: 500,
    });
    dispatcher.start();
    releases.push({ what: 'webhook dispatcher', run: () => dispatcher.stop() });
    releases.push({
      what: 'workers',
      run: async () => {
        orchestration.shutdown();
        gpu?.shutdown();
        await workers;
      },
    });
    // Before the workers drain: whatever the stack started and left open (a video still rendering, a cameo's long-lived
    // workflow) is terminated, so nothing of it runs on (or waits for a worker) on the shared Temporal server.
    releases.push({ what: 'open workflows', run: () => terminateOpenWorkflows(temporal.client, [taskQueue, gpuTaskQueue]) });
    let gpuInferenceSeconds: () => Promise<number> =
      engine === 'none' ? () => Promise.reject(new Error('this stack runs no GPU worker')) : () => Promise.resolve(meter.finishedSeconds());
    if (engine === 'process') {
      const gpuProcess = await startGpuWorkerProcess(
        {
          TEMPORAL_ADDRESS: options.temporalAddress,
          TEMPORAL_NAMESPACE: namespace,
          GPU_TASK_QUEUE: gpuTaskQueue,
          DATA_DIR: options.dataDir,
          ...(options.gpuConcurrency !== undefined ? { GPU_CONCURRENCY: String(options.gpuConcurrency) } : {}),
          ...(options.ffmpegPath ? { FFMPEG_PATH: options.ffmpegPath } : {}),
          ...(options.gpuCores ? { INFERENCE_THREADS: String(options.gpuCores.count) } : {}),
          ...(options.gpuLookaheadChunks !== undefined ? { GPU_LOOKAHEAD_CHUNKS: String(options.gpuLookaheadChunks) } : {}),
          // Always set, so the process draws what the in-process worker would, whatever this process's environment says.
          ...watermarkEnv(options.watermark ?? DEFAULT_WATERMARK),
        },
        options.gpuCores?.cpus,
      );
      releases.push({ what: 'GPU worker process', run: () => gpuProcess.stop() });
      gpuInferenceSeconds = () => scrapeInferenceSeconds(gpuProcess.healthUrl);
    }

    const videoReadModel = createVideoReadModel(pool, { schema: schemas.readModels });
    const app = await buildServer({
      logger: logger.child({ component: 'api' }),
      eventStore,
      temporal,
      readModels: pool,
      readModelsSchema: schemas.readModels,
      users,
      videos: {
        blobs,
        readModel: videoReadModel,
        idempotency,
        ffmpeg: () => ffmpeg,
        contentCredentials,
        config: {
          modelName: 'reference',
          taskQueue,
          gpuTaskQueue,
          inputReferenceMaxBytes: 1024 * 1024,
          streamPollMs: 100,
          ...(options.retentionSeconds ? { retentionSeconds: options.retentionSeconds } : {}),
        },
      },
      // Recordings up to 4 MiB: the test clips are far smaller, and a test can go past the limit cheaply.
      cameos: { blobs, videos: videoReadModel, challenges, config: { taskQueue, recordingMaxBytes: RECORDING_MAX_BYTES } },
      engagement: { schema: schemas.readModels, viewFlushMs: 200 },
      webhooks: { store: webhookStore, policy: webhookPolicy, deliveries: { eventStore, temporal: () => temporal.client, taskQueue, retry: webhookRetry } },
      // Replays run against the bundle the orchestration worker runs, so nothing is bundled again.
      debug: { workflowCode: async () => ({ workflowBundle: options.workflowBundle }) },
      ...(options.tiers ? { tiers: stackTiers(options.tiers) } : {}),
    });
    releases.push({ what: 'API server', run: () => app.close() });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    if (!address || typeof address !== 'object') throw new Error('the API server has no address');

    return {
      url: `http://127.0.0.1:${address.port}`,
      eventStore,
      blobs,
      dataDir: options.dataDir,
      taskQueue,
      gpuTaskQueue,
      gpuInferenceSeconds,
      user: (userName: string, role: Role = 'user', tier?: string) => users.createUser({ name: userName, role, ...(tier ? { tier } : {}) }),
      stop: release,
    };
  } catch (err) {
    await release().catch(() => undefined);
    throw err;
  }
}

/** Terminates every running workflow on these task queues; returns how many. */
async function terminateOpenWorkflows(client: Client, taskQueues: string[]): Promise<number> {
  const query = `ExecutionStatus = "Running" AND (${taskQueues.map((q) => `TaskQueue = "${q}"`).join(' OR ')})`;
  let terminated = 0;
  for await (const execution of client.workflow.list({ query })) {
    await client.workflow
      .getHandle(execution.workflowId, execution.runId)
      .terminate('the stack that started it stopped')
      .then(
        () => terminated++,
        (err: unknown) => {
          // Closed meanwhile: nothing left to stop.
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        },
      );
  }
  return terminated;
}

/** The WATERMARK* variables that give a GPU worker process `watermark`. */
function watermarkEnv(watermark: WatermarkSettings | 'off'): Record<string, string> {
  if (watermark === 'off') return { WATERMARK: 'off' };
  return { WATERMARK: 'on', WATERMARK_POSITION: watermark.position, WATERMARK_SCALE: String(watermark.scale) };
}

/** How long the GPU worker process may take to load the model pack, warm up and start polling. */
const GPU_WORKER_START_MS = 120_000;

/**
 * gpu-workers/worker.ts as a child process with this process's environment plus `env` (its blobs under DATA_DIR/blobs,
 * the stack's). Resolves once it polls; `stop` asks it to drain (SIGTERM) and waits, SIGKILL after the grace time.
 */
async function startGpuWorkerProcess(env: Record<string, string>, cpus?: string): Promise<{ pid: number; healthUrl: string; stop(): Promise<void> }> {
  let polling!: () => void;
  const ready = new Promise<void>((resolve) => (polling = resolve));
  let healthUrl: string | undefined;
  const worker = startScript('gpu-workers/worker.ts', {
    // Any free health port: a HEALTH_PORT in this process's environment would make two stacks' workers collide.
    env: { LOG_LEVEL: 'info', HEALTH_HOST: '127.0.0.1', HEALTH_PORT: '0', ...env },
    ...(cpus !== undefined ? { cpus } : {}),
    tail: ['stdout', 'stderr'],
    onLine: (line) => {
      // Its health endpoint (and /metrics) is logged before it polls, at info.
      if (healthUrl === undefined && line.includes('"health"')) healthUrl = healthOf(line);
      if (line.includes('"gpu worker polling"')) polling();
    },
  });
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    ready.then(() => 'ready' as const),
    worker.exited.then((how) => `exited (${how})`),
    new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`not polling after ${GPU_WORKER_START_MS / 1000} s`), GPU_WORKER_START_MS))),
  ]);
  clearTimeout(timer);
  // Asked to drain (SIGTERM); SIGKILL after the grace time.
  const stop = () => worker.stop((child) => child.kill('SIGTERM'), 15_000);
  if (outcome !== 'ready') {
    await stop();
    throw new Error(`the GPU worker process ${outcome}:\n${worker.tail()}`);
  }
  if (healthUrl === undefined) {
    await stop();
    throw new Error(`the GPU worker process polls but logged no health endpoint:\n${worker.tail()}`);
  }
  return { pid: worker.child.pid!, healthUrl, stop };
}

/** The `health` field of a pino line, if it is one. */
function healthOf(line: string): string | undefined {
  try {
    const health = (JSON.parse(line) as { health?: unknown }).health;
    return typeof health === 'string' ? health : undefined;
  } catch {
    return undefined;
  }
}

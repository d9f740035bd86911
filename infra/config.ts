// The one place that reads process.env: every setting, validated once at start, with an embedded default.
import path from 'node:path';

export type InferenceEp = 'cpu' | 'webgpu' | 'cuda' | 'auto';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  port: number;
  dataDir: string;
  temporalAddress: string | undefined;
  temporalDevPort: number;
  temporalUiPort: number;
  temporalNamespace: string;
  temporalCliPath: string | undefined;
  temporalTestServerPath: string | undefined;
  embeddedPgPort: number;
  eventStoreUrl: string | undefined;
  /** The PostgreSQL schema of the event store's tables (PostgreSQL event stores only). */
  eventStoreSchema: string;
  /** The PostgreSQL schema of the read models (projector writes, API reads). */
  readModelsSchema: string;
  databaseUrl: string | undefined;
  kurrentDbUrl: string | undefined;
  eventMaxBytes: number;
  inferenceEp: InferenceEp;
  /** ONNX Runtime intra-op threads per session; 0 lets ORT pick (one per physical core). */
  inferenceThreads: number;
  /** A pack folder name under gpu-workers/models/, or an absolute path to a pack folder. */
  modelPack: string;
  /** The prompt policy file of automated moderation. */
  moderationPolicyPath: string;
  gpuConcurrency: number;
  /** Chunks a GPU worker renders ahead of the activities asking for them, past the latest asked for; 0 turns it off. */
  gpuLookaheadChunks: number;
  /** The inference task queue the GPU workers poll and generation workflows send chunks to. */
  gpuTaskQueue: string;
  /** The task queue the orchestration workers poll and the API starts workflows on. */
  orchestrationTaskQueue: string;
  ffmpegPath: string | undefined;
  logLevel: LogLevel;
  ci: boolean;
  // --- roles (issue 16) ---
  /** The roles this host runs (`npm start` starts these and no others); ROLES, default all four. */
  roles: Role[];
  /** Where a worker role (orchestration, GPU, projector) serves /healthz and /readyz; 127.0.0.1 by default. */
  healthHost: string;
  /** Its port: 0 = any free port (logged). Under `npm start`, the first worker role placed gets it, the next the ports after. */
  healthPort: number;
}

/** A bad setting: its message is the one line printed before the process stops. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly value: string,
    readonly expected: string,
  ) {
    super(`invalid ${variable}=${JSON.stringify(value)}: expected ${expected}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function text(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, raw, `an integer from ${min} to ${max}`);
  }
  return Number(raw);
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(name, raw, `one of ${allowed.join(', ')}`);
  return raw as T;
}

/** A model pack: a plain folder name (under gpu-workers/models/) or an absolute path to the folder. */
function modelPack(env: Env, name: string, fallback: string): string {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (path.isAbsolute(raw) || /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(raw)) return raw;
  throw new ConfigError(name, raw, 'a pack folder name under gpu-workers/models/ (letters, digits, ".", "_", "-") or an absolute path');
}

function url(env: Env, name: string, schemes: readonly string[]): string | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, raw, `a URL of the form ${schemes.map((s) => `${s}//...`).join(' or ')}`);
  }
  if (!schemes.includes(parsed.protocol)) {
    throw new ConfigError(name, raw, `a URL of the form ${schemes.map((s) => `${s}//...`).join(' or ')}`);
  }
  return raw;
}

function hostPort(env: Env, name: string): string | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  if (!/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/.test(raw)) throw new ConfigError(name, raw, 'host:port, e.g. 127.0.0.1:7233');
  return raw;
}

function taskQueue(env: Env, name: string, fallback: string): string {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(raw)) throw new ConfigError(name, raw, 'a task queue name of letters, digits, ".", "_" or "-"');
  return raw;
}

/** A PostgreSQL schema name as the event store accepts it: lower case, unquoted, at most 63 characters. */
function schemaName(env: Env, name: string, fallback: string): string {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(raw))
    throw new ConfigError(name, raw, 'a schema name of lower-case letters, digits and "_" (at most 63, not starting with a digit)');
  return raw;
}

// --- roles (issue 16) ---------------------------------------------------------------------------------------------

/** The roles a host can run, in the order `npm start` starts them. */
export const ROLE_NAMES = ['api', 'orchestration-worker', 'gpu-worker', 'projector'] as const;
export type Role = (typeof ROLE_NAMES)[number];

/** ROLES: a comma list of distinct role names; unset means every role. */
function roles(env: Env, name: string): Role[] {
  const raw = env[name];
  if (raw === undefined) return [...ROLE_NAMES];
  const expected = `a comma list of ${ROLE_NAMES.join(', ')} (each at most once)`;
  const entries = raw.split(',').map((entry) => entry.trim());
  if (entries.every((entry) => entry === '')) throw new ConfigError(name, raw, `${expected}; it names none`);
  const seen = new Set<string>();
  for (const entry of entries) {
    if (!(ROLE_NAMES as readonly string[]).includes(entry)) {
      throw new ConfigError(name, raw, `${expected}; ${entry === '' ? 'an empty entry' : JSON.stringify(entry)} is not a role`);
    }
    if (seen.has(entry)) throw new ConfigError(name, raw, `${expected}; ${JSON.stringify(entry)} is named twice`);
    seen.add(entry);
  }
  return entries as Role[];
}

function roleSettings(env: Env): Pick<Config, 'roles' | 'healthHost' | 'healthPort'> {
  const healthHost = text(env, 'HEALTH_HOST') ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.\-:]+$/.test(healthHost))
    throw new ConfigError('HEALTH_HOST', healthHost, 'a host name or IP address to listen on, e.g. 127.0.0.1 or 0.0.0.0');
  return { roles: roles(env, 'ROLES'), healthHost, healthPort: integer(env, 'HEALTH_PORT', 0, 0, 65535) };
}

// ---------------------------------------------------------------------------------------------------------------

const PG_SCHEMES = ['postgres:', 'postgresql:'] as const;
const ES_SCHEMES = ['postgres:', 'postgresql:', 'kurrentdb:', 'kurrentdb+discover:', 'esdb:', 'esdb+discover:'] as const;

/** Reads and validates every setting; throws ConfigError naming the first bad one. */
export function loadConfig(env: Env = process.env): Config {
  const dataDir = path.resolve(text(env, 'DATA_DIR') ?? './.data');
  return {
    port: integer(env, 'PORT', 8080, 0, 65535),
    dataDir,
    temporalAddress: hostPort(env, 'TEMPORAL_ADDRESS'),
    temporalDevPort: integer(env, 'TEMPORAL_DEV_PORT', 7233, 0, 65535),
    temporalUiPort: integer(env, 'TEMPORAL_UI_PORT', 8233, 0, 65535),
    temporalNamespace: text(env, 'TEMPORAL_NAMESPACE') ?? 'default',
    temporalCliPath: text(env, 'TEMPORAL_CLI_PATH'),
    temporalTestServerPath: text(env, 'TEMPORAL_TEST_SERVER_PATH'),
    embeddedPgPort: integer(env, 'EMBEDDED_PG_PORT', 0, 0, 65535),
    eventStoreUrl: url(env, 'EVENTSTORE_URL', ES_SCHEMES),
    eventStoreSchema: schemaName(env, 'EVENTSTORE_SCHEMA', 'eventstore'),
    readModelsSchema: schemaName(env, 'READMODELS_SCHEMA', 'readmodels'),
    databaseUrl: url(env, 'DATABASE_URL', PG_SCHEMES),
    kurrentDbUrl: url(
      env,
      'KURRENTDB_URL',
      ES_SCHEMES.filter((s) => !s.startsWith('postgres')),
    ),
    eventMaxBytes: integer(env, 'EVENT_MAX_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    inferenceEp: oneOf(env, 'INFERENCE_EP', 'auto', ['cpu', 'webgpu', 'cuda', 'auto'] as const),
    inferenceThreads: integer(env, 'INFERENCE_THREADS', 0, 0, 256),
    modelPack: modelPack(env, 'MODEL_PACK', 'reference'),
    moderationPolicyPath: path.resolve(__dirname, '..', text(env, 'MODERATION_POLICY') ?? 'config/moderation-policy.json'),
    gpuConcurrency: integer(env, 'GPU_CONCURRENCY', 1, 1, 64),
    gpuLookaheadChunks: integer(env, 'GPU_LOOKAHEAD_CHUNKS', 2, 0, 8),
    gpuTaskQueue: taskQueue(env, 'GPU_TASK_QUEUE', 'gpu'),
    orchestrationTaskQueue: taskQueue(env, 'ORCHESTRATION_TASK_QUEUE', 'orchestration'),
    ffmpegPath: text(env, 'FFMPEG_PATH'),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
    ci: /^(1|true|yes)$/i.test(text(env, 'CI') ?? ''),
    ...roleSettings(env),
  };
}

/** For process entry points: a bad value prints one line and stops the process. */
export function loadConfigOrExit(env: Env = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`reelforge: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

// The one place that reads process.env: every setting, validated once at start, with an embedded default.
import { isIP } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import { checkPrefix } from './blobs/port';
import { parseTiers, TiersError, type TierTable } from './tiers';

export type InferenceEp = 'cpu' | 'webgpu' | 'cuda' | 'auto';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  port: number;
  dataDir: string;
  temporalAddress: string | undefined;
  temporalDevPort: number;
  temporalUiPort: number;
  temporalNamespace: string;
  /**
   * How the roles reach a Temporal server that wants TLS (Temporal Cloud, a self-hosted cluster with TLS):
   * TEMPORAL_API_KEY (sent as a bearer token; implies TLS), TEMPORAL_TLS (`true`/`false`; default: true when an API
   * key or a client certificate is set), TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH (mTLS, PEM files, both or
   * neither), TEMPORAL_TLS_CA_PATH (the server's CA, PEM, when it is not a public one), TEMPORAL_TLS_SERVER_NAME.
   */
  temporalTls: TemporalTls | undefined;
  temporalApiKey: string | undefined;
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
  /**
   * `on`: the sizes the pack's upscaler lists render at 1/scale of their sides and are upscaled to the size asked for;
   * `off` (the default): every size renders directly.
   */
  upscaler: 'on' | 'off';
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
  /** The output safety classifier's ONNX model (SAFETY_MODEL_PATH); unset: the one the bootstrap put under .tools/. */
  safetyModelPath: string | undefined;

  /** CAMEO_PHRASES: a file of challenge phrases, one per line (domain/cameo/phrases.ts); unset: the built-in word list. */
  cameoPhrasesPath: string | undefined;
  /** CAMEO_FACE_MODEL: the BlazeFace ONNX file cameo verification loads; unset: the one .tools/tools.json names. */
  cameoFaceModelPath: string | undefined;
  /** C2PA_SIGNING_KEY / C2PA_SIGNING_CERTS: the ES256 key and the certificate chain (PEM, leaf first) content credentials are signed with; unset: the mux cannot sign (`npm start` makes a development chain). */
  c2paSigningKeyPath: string | undefined;
  c2paSigningCertsPath: string | undefined;
  /** C2PA_PYTHON: a python with c2pa-python; unset: the bootstrap's venv (.tools/tools.json). */
  c2paPythonPath: string | undefined;
  // The blob store (issue 16).
  /** Where blobs live (BLOB_URL): a folder, or an S3 bucket and a key prefix in it. */
  blobs: BlobLocation;
  /** How to reach S3 (the standard AWS variables); read only when `blobs` is S3. */
  aws: AwsSettings;
  /** Seconds a presigned URL for video content is valid; 0 (the default): the API streams the content itself. */
  blobContentRedirectSeconds: number;
  logLevel: LogLevel;
  ci: boolean;
  // --- roles (issue 16) ---
  /** The roles this host runs (`npm start` starts these and no others); ROLES, default all four. */
  roles: Role[];
  /** Where a worker role (orchestration, GPU, projector) serves /healthz and /readyz; 127.0.0.1 by default. */
  healthHost: string;
  /** Its port: 0 = any free port (logged). Under `npm start`, the first worker role placed gets it, the next the ports after. */
  healthPort: number;
  // --- drain (issue 17) ---
  /**
   * SHUTDOWN_GRACE_SECONDS: how long a role takes at most from SIGTERM to its exit. The API finishes the requests in
   * flight within it; a worker lets its activities finish for the first part (workerDrainSeconds) and hands back what is
   * still running in the rest. A container's termination grace period should be a little longer.
   */
  shutdownGraceSeconds: number;
  /**
   * WORKER_DRAIN_SECONDS: how long a worker's activities in flight get to finish after SIGTERM before they are cancelled
   * and handed back; by default the grace period less 5 s, but at least half of it. 0 hands them back at once.
   */
  workerDrainSeconds: number;
  // --- observability (issue 17) ---
  /**
   * OTEL_EXPORTER_OTLP_ENDPOINT: the OTLP/HTTP collector each role sends its trace spans to (`<endpoint>/v1/traces`).
   * Unset: no tracing is set up at all.
   */
  otlpEndpoint: string | undefined;
  // --- deployment (issue 17) ---
  /**
   * SCHEMA_MIGRATIONS: `apply` (default): a role opening a store applies the migrations it lacks, under an advisory lock;
   * `verify`: it only checks that they were applied and refuses to start otherwise, so that a fleet's migrations run
   * once, in the migrate job (`npm run migrate`, the image's `migrate` command), before any replica starts.
   */
  schemaMigrations: 'apply' | 'verify';
  // --- webhooks (issue 18) ---
  /**
   * WEBHOOK_ALLOWED_HOSTS: host names or IP addresses (lower case) a webhook endpoint may use even though they are not
   * public (loopback, private, ...), and over plain http; for development and tests. Empty by default.
   */
  webhookAllowedHosts: string[];
  /**
   * WEBHOOK_RETRY_FIRST_SECONDS (default 30) and WEBHOOK_RETRY_WINDOW_SECONDS (default 259200, 72 hours): a delivery
   * not answered with a 2xx is tried again after the first wait, then after twice as long each time (at most an hour
   * apart), until the window has passed; then it has failed, and its endpoint is disabled.
   */
  webhookRetry: { firstSeconds: number; windowSeconds: number };
  // --- retention (issue 18) ---
  /**
   * VIDEO_RETENTION_SECONDS: how long a completed video's content is kept (its `expires_at` is its completion plus
   * this), unless it is published; 0 keeps it forever. Read by the API, which hands it to each video's workflow.
   */
  videoRetentionSeconds: number;
  // --- tiers, rate limits and budgets (issue 18) ---
  /** RATE_LIMIT_WINDOW_SECONDS (default 60): the window each tier's request count is over. */
  rateLimitWindowSeconds: number;
  /**
   * The tiers (infra/tiers.ts). The `default` tier: RATE_LIMIT_REQUESTS (default 600; 0: none) requests per window,
   * MAX_ACTIVE_VIDEOS_PER_USER (default 0: none) videos queued or in progress at once, DAILY_VIDEO_SECONDS_PER_USER
   * (default 0: none) seconds of video per UTC day, GPU weight 1. TIERS_FILE (JSON) adds tiers or redefines it.
   */
  tiers: TierTable;
  // --- the read side (issue 22) ---
  /**
   * FEED_CURSOR_TTL_SECONDS (default 3600): how long a feed walk's cursors live from its first page; an older one is
   * 410 `cursor_expired`. The projector trims the feed's engagement log to what walks this young can need.
   */
  feedCursorTtlSeconds: number;
  /**
   * FEED_RANKING_INTERVAL_SECONDS (default 60; 0: none): how often the projector ranks the whole feed into a table, so
   * feed pages read a ranking instead of scoring every video (projections/feedRanking.ts).
   */
  feedRankingIntervalSeconds: number;
  // --- the visible watermark (issue 21) ---
  /**
   * WATERMARK (`on`, the default, or `off`), WATERMARK_POSITION and WATERMARK_SCALE: the mark the GPU worker draws into
   * every frame before it encodes a chunk (gpu-workers/engine/watermark.ts). It is part of what makes a chunk, so every
   * GPU worker of a deployment must share these settings: a chunk retried on another worker must come out the same.
   */
  watermark: WatermarkSettings | 'off';
}

// --- the visible watermark (issue 21) -------------------------------------------------------------------------------

export const WATERMARK_POSITIONS = ['bottom-right', 'bottom-left', 'top-right', 'top-left'] as const;
export type WatermarkPosition = (typeof WATERMARK_POSITIONS)[number];

export interface WatermarkSettings {
  /** The corner of the frame it sits in. */
  position: WatermarkPosition;
  /**
   * The letters' height as a fraction of the frame's shorter side (not its height: a portrait frame would otherwise
   * get a mark wider than itself), rounded down to whole pixels of the built-in font, at least one.
   */
  scale: number;
}

/** WATERMARK_SCALE's bounds: below, the mark is a few pixels at every size; above, it covers most of a frame's width. */
export const WATERMARK_SCALE_MIN = 0.02;
export const WATERMARK_SCALE_MAX = 0.1;

/** What WATERMARK=on draws unless told otherwise. */
export const DEFAULT_WATERMARK: WatermarkSettings = { position: 'bottom-right', scale: 0.04 };

function watermarkSettings(env: Env): WatermarkSettings | 'off' {
  const enabled = oneOf(env, 'WATERMARK', 'on', ['on', 'off'] as const);
  // Checked even when off, so a typo does not wait to be found until the mark is turned on.
  const position = oneOf(env, 'WATERMARK_POSITION', DEFAULT_WATERMARK.position, WATERMARK_POSITIONS);
  const raw = text(env, 'WATERMARK_SCALE');
  const scale = raw === undefined ? DEFAULT_WATERMARK.scale : Number(raw);
  if (raw !== undefined && (!/^\d*\.?\d+$/.test(raw) || scale < WATERMARK_SCALE_MIN || scale > WATERMARK_SCALE_MAX)) {
    throw new ConfigError(
      'WATERMARK_SCALE',
      raw,
      `a decimal from ${WATERMARK_SCALE_MIN} to ${WATERMARK_SCALE_MAX} (the letters' height over the frame's shorter side)`,
    );
  }
  return enabled === 'off' ? 'off' : { position, scale };
}

/** VIDEO_RETENTION_SECONDS's default: 7 days. */
export const DEFAULT_VIDEO_RETENTION_SECONDS = 7 * 24 * 3600;

export type BlobLocation = { kind: 'file'; root: string } | { kind: 's3'; bucket: string; prefix: string };

export interface AwsSettings {
  region: string | undefined;
  /** AWS_ENDPOINT_URL_S3: an S3-compatible store (MinIO, Ceph RGW, R2, ...) instead of Amazon S3. */
  endpoint: string | undefined;
  /** Unset: the SDK's default provider chain (profile, web identity, container or instance role). */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
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

// The blob store's settings (issue 16): BLOB_URL and the standard AWS variables.
const BLOB_URL_FORMS = 'file:///absolute/path or s3://bucket/prefix';

function blobLocation(env: Env, dataDir: string): BlobLocation {
  const raw = text(env, 'BLOB_URL');
  if (raw === undefined) return { kind: 'file', root: path.join(dataDir, 'blobs') };
  const bad = (what: string) => new ConfigError('BLOB_URL', raw, `${BLOB_URL_FORMS}; ${what}`);
  if (/^file:/i.test(raw)) {
    try {
      return { kind: 'file', root: fileURLToPath(raw) };
    } catch (err) {
      throw bad(`${(err as Error).message} (a file URL names an absolute path: three slashes)`);
    }
  }
  if (!/^s3:/i.test(raw)) throw bad(`the scheme must be file: or s3:`);
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/i.exec(raw);
  if (!match) throw bad('an s3 URL starts with s3:// and the bucket');
  const [, bucket = '', rawPrefix = ''] = match;
  if (bucket.includes('@') || bucket.includes(':'))
    throw bad('no credentials or port in the URL: use AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_ENDPOINT_URL_S3');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes('..'))
    throw bad(`the bucket ${JSON.stringify(bucket)} is not a bucket name (3 to 63 lower-case letters, digits, "." and "-")`);
  if (/[?#]/.test(rawPrefix)) throw bad('no query or fragment: the path after the bucket is the key prefix');
  const prefix = rawPrefix.replace(/\/+$/, '');
  if (prefix !== '') {
    try {
      checkPrefix(prefix);
    } catch (err) {
      throw bad(`the key prefix ${JSON.stringify(prefix)} is not made of key segments: ${(err as Error).message.replace(/^invalid blob key "[^"]*": /, '')}`);
    }
  }
  return { kind: 's3', bucket, prefix };
}

function awsSettings(env: Env, blobs: BlobLocation): AwsSettings {
  const endpoint = url(env, 'AWS_ENDPOINT_URL_S3', ['http:', 'https:']);
  let region = text(env, 'AWS_REGION');
  if (region !== undefined && !/^[a-z0-9-]{1,64}$/.test(region)) throw new ConfigError('AWS_REGION', region, 'a region name such as eu-west-1');
  // S3-compatible stores take any region, and us-east-1 is the one they expect when they care; Amazon S3 needs the real one.
  if (region === undefined && endpoint !== undefined) region = 'us-east-1';
  if (region === undefined && blobs.kind === 's3')
    throw new ConfigError('AWS_REGION', '', `the bucket's region (e.g. eu-west-1) with BLOB_URL=s3://..., or AWS_ENDPOINT_URL_S3 for an S3-compatible store`);
  const accessKeyId = text(env, 'AWS_ACCESS_KEY_ID');
  const secretAccessKey = text(env, 'AWS_SECRET_ACCESS_KEY');
  const sessionToken = text(env, 'AWS_SESSION_TOKEN');
  // Never echo a secret: these errors name the variable that is missing, not the one that is set.
  if (accessKeyId !== undefined && secretAccessKey === undefined) throw new ConfigError('AWS_SECRET_ACCESS_KEY', '', 'to be set with AWS_ACCESS_KEY_ID');
  if (secretAccessKey !== undefined && accessKeyId === undefined) throw new ConfigError('AWS_ACCESS_KEY_ID', '', 'to be set with AWS_SECRET_ACCESS_KEY');
  const credentials = accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } : undefined;
  return { region, endpoint, credentials };
}

function blobContentRedirect(env: Env, blobs: BlobLocation): number {
  const seconds = integer(env, 'BLOB_CONTENT_REDIRECT_SECONDS', 0, 0, 7 * 24 * 3600);
  if (seconds > 0 && blobs.kind !== 's3') throw new ConfigError('BLOB_CONTENT_REDIRECT_SECONDS', String(seconds), '0 unless BLOB_URL is s3://...');
  return seconds;
}

// --- Temporal TLS (issue 17) ----------------------------------------------------------------------------------------

export interface TemporalTls {
  certPath?: string;
  keyPath?: string;
  caPath?: string;
  serverName?: string;
}

function temporalTlsSettings(env: Env): Pick<Config, 'temporalTls' | 'temporalApiKey'> {
  const apiKey = text(env, 'TEMPORAL_API_KEY');
  const certPath = text(env, 'TEMPORAL_TLS_CERT_PATH');
  const keyPath = text(env, 'TEMPORAL_TLS_KEY_PATH');
  if ((certPath === undefined) !== (keyPath === undefined)) {
    const [set, unset] = certPath === undefined ? ['TEMPORAL_TLS_KEY_PATH', 'TEMPORAL_TLS_CERT_PATH'] : ['TEMPORAL_TLS_CERT_PATH', 'TEMPORAL_TLS_KEY_PATH'];
    throw new ConfigError(set, env[set] ?? '', `a client certificate needs both TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH; ${unset} is unset`);
  }
  const rawTls = text(env, 'TEMPORAL_TLS');
  if (rawTls !== undefined && !/^(true|false)$/.test(rawTls)) throw new ConfigError('TEMPORAL_TLS', rawTls, 'true or false');
  const tls = rawTls === undefined ? apiKey !== undefined || certPath !== undefined : rawTls === 'true';
  if (!tls && (certPath !== undefined || text(env, 'TEMPORAL_TLS_CA_PATH') !== undefined)) {
    throw new ConfigError('TEMPORAL_TLS', rawTls ?? '', 'true when TEMPORAL_TLS_CERT_PATH or TEMPORAL_TLS_CA_PATH is set');
  }
  const caPath = text(env, 'TEMPORAL_TLS_CA_PATH');
  const serverName = text(env, 'TEMPORAL_TLS_SERVER_NAME');
  return {
    temporalApiKey: apiKey,
    temporalTls: tls ? { ...(certPath ? { certPath, keyPath } : {}), ...(caPath ? { caPath } : {}), ...(serverName ? { serverName } : {}) } : undefined,
  };
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

// --- drain (issue 17) ----------------------------------------------------------------------------------------------

/** What a worker keeps of its grace period, by default, to hand back the activities still running. */
const HAND_BACK_SECONDS = 5;

function drainSettings(env: Env): Pick<Config, 'shutdownGraceSeconds' | 'workerDrainSeconds'> {
  // Default: a chunk at the default sizes takes seconds; 30 s leaves it 25 s to finish and 5 s to hand back.
  const grace = integer(env, 'SHUTDOWN_GRACE_SECONDS', 30, 1, 3600);
  const drain = integer(env, 'WORKER_DRAIN_SECONDS', Math.max(grace - HAND_BACK_SECONDS, Math.floor(grace / 2)), 0, grace - 1);
  return { shutdownGraceSeconds: grace, workerDrainSeconds: drain };
}

// --- webhooks (issue 18) -------------------------------------------------------------------------------------------

/** WEBHOOK_ALLOWED_HOSTS: a comma list of host names or IP literals (IPv6 without brackets), lower-cased. */
function webhookAllowedHosts(env: Env, name: string): string[] {
  const raw = text(env, name);
  if (raw === undefined) return [];
  const expected = 'a comma list of host names or IP addresses (IPv6 without brackets), e.g. 127.0.0.1,localhost';
  const hosts: string[] = [];
  for (const entry of raw.split(',').map((e) => e.trim().toLowerCase())) {
    if (entry === '') throw new ConfigError(name, raw, `${expected}; an empty entry`);
    const hostName = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/.test(entry);
    if (!hostName && isIP(entry) === 0) throw new ConfigError(name, raw, `${expected}; ${JSON.stringify(entry)} is neither`);
    const host = entry.replace(/\.$/, '');
    if (!hosts.includes(host)) hosts.push(host);
  }
  return hosts;
}

// ---------------------------------------------------------------------------------------------------------------

const PG_SCHEMES = ['postgres:', 'postgresql:'] as const;
const ES_SCHEMES = ['postgres:', 'postgresql:', 'kurrentdb:', 'kurrentdb+discover:', 'esdb:', 'esdb+discover:'] as const;

/** The content credentials' signing key and chain: both or neither, each a readable file. */
function c2paSettings(env: Env): Pick<Config, 'c2paSigningKeyPath' | 'c2paSigningCertsPath' | 'c2paPythonPath'> {
  const key = optionalPath(env, 'C2PA_SIGNING_KEY');
  const certs = optionalPath(env, 'C2PA_SIGNING_CERTS');
  if (key !== undefined && certs === undefined)
    throw new ConfigError('C2PA_SIGNING_CERTS', '', 'the certificate chain (PEM, leaf first) to go with C2PA_SIGNING_KEY');
  if (certs !== undefined && key === undefined)
    throw new ConfigError('C2PA_SIGNING_KEY', '', "the leaf certificate's ES256 private key (PEM) to go with C2PA_SIGNING_CERTS");
  for (const [name, file] of [
    ['C2PA_SIGNING_KEY', key],
    ['C2PA_SIGNING_CERTS', certs],
  ] as const) {
    if (file !== undefined && !fs.existsSync(file)) throw new ConfigError(name, file, 'a PEM file that exists');
  }
  return { c2paSigningKeyPath: key, c2paSigningCertsPath: certs, c2paPythonPath: optionalPath(env, 'C2PA_PYTHON') };
}

/** Reads and validates every setting; throws ConfigError naming the first bad one. */
export function loadConfig(env: Env = process.env): Config {
  const dataDir = path.resolve(text(env, 'DATA_DIR') ?? './.data');
  const blobs = blobLocation(env, dataDir);
  return {
    port: integer(env, 'PORT', 8080, 0, 65535),
    dataDir,
    temporalAddress: hostPort(env, 'TEMPORAL_ADDRESS'),
    temporalDevPort: integer(env, 'TEMPORAL_DEV_PORT', 7233, 0, 65535),
    temporalUiPort: integer(env, 'TEMPORAL_UI_PORT', 8233, 0, 65535),
    temporalNamespace: text(env, 'TEMPORAL_NAMESPACE') ?? 'default',
    ...temporalTlsSettings(env),
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
    upscaler: oneOf(env, 'UPSCALER', 'off', ['on', 'off'] as const),
    moderationPolicyPath: path.resolve(__dirname, '..', text(env, 'MODERATION_POLICY') ?? 'config/moderation-policy.json'),
    gpuConcurrency: integer(env, 'GPU_CONCURRENCY', 1, 1, 64),
    gpuLookaheadChunks: integer(env, 'GPU_LOOKAHEAD_CHUNKS', 2, 0, 8),
    gpuTaskQueue: taskQueue(env, 'GPU_TASK_QUEUE', 'gpu'),
    orchestrationTaskQueue: taskQueue(env, 'ORCHESTRATION_TASK_QUEUE', 'orchestration'),
    ffmpegPath: text(env, 'FFMPEG_PATH'),
    safetyModelPath: text(env, 'SAFETY_MODEL_PATH'),

    cameoPhrasesPath: optionalPath(env, 'CAMEO_PHRASES'),
    cameoFaceModelPath: optionalPath(env, 'CAMEO_FACE_MODEL'),
    ...c2paSettings(env),
    blobs,
    aws: awsSettings(env, blobs),
    blobContentRedirectSeconds: blobContentRedirect(env, blobs),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
    ci: /^(1|true|yes)$/i.test(text(env, 'CI') ?? ''),
    ...roleSettings(env),
    ...drainSettings(env),
    otlpEndpoint: url(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', ['http:', 'https:']),
    schemaMigrations: oneOf(env, 'SCHEMA_MIGRATIONS', 'apply', ['apply', 'verify'] as const),
    webhookAllowedHosts: webhookAllowedHosts(env, 'WEBHOOK_ALLOWED_HOSTS'),
    webhookRetry: {
      firstSeconds: integer(env, 'WEBHOOK_RETRY_FIRST_SECONDS', 30, 1, 3600),
      windowSeconds: integer(env, 'WEBHOOK_RETRY_WINDOW_SECONDS', 72 * 3600, 10, 30 * 24 * 3600),
    },
    videoRetentionSeconds: integer(env, 'VIDEO_RETENTION_SECONDS', DEFAULT_VIDEO_RETENTION_SECONDS, 0, 10 * 365 * 24 * 3600),
    rateLimitWindowSeconds: integer(env, 'RATE_LIMIT_WINDOW_SECONDS', 60, 1, 86400),
    tiers: tiers(env),
    feedCursorTtlSeconds: integer(env, 'FEED_CURSOR_TTL_SECONDS', 3600, 60, 7 * 24 * 3600),
    feedRankingIntervalSeconds: integer(env, 'FEED_RANKING_INTERVAL_SECONDS', 60, 0, 24 * 3600),
    watermark: watermarkSettings(env),
  };
}

/** The default tier from its three settings, and TIERS_FILE's tiers when it is set (a file that cannot be read or is wrong stops the start). */
function tiers(env: Env): TierTable {
  const defaults = {
    rateLimitRequests: integer(env, 'RATE_LIMIT_REQUESTS', 600, 0, 1_000_000),
    maxActiveVideos: integer(env, 'MAX_ACTIVE_VIDEOS_PER_USER', 0, 0, 100_000),
    dailyVideoSeconds: integer(env, 'DAILY_VIDEO_SECONDS_PER_USER', 0, 0, 100_000_000),
  };
  const file = text(env, 'TIERS_FILE');
  let body: string | undefined;
  if (file !== undefined) {
    try {
      body = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError('TIERS_FILE', file, `a readable JSON file of tiers (${(err as Error).message})`);
    }
  }
  try {
    return parseTiers(body, defaults);
  } catch (err) {
    if (err instanceof TiersError) throw new ConfigError('TIERS_FILE', file ?? '', `a JSON file of tiers (docs/api.md, "Tiers"): ${err.message}`);
    throw err;
  }
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

/** An optional file path, made absolute against the working directory. */
function optionalPath(env: Env, name: string): string | undefined {
  const value = text(env, name);
  return value === undefined ? undefined : path.resolve(value);
}

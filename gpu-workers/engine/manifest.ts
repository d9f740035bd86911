// The model pack format: manifest.json names what a pack renders, every tensor of its three graphs and the SHA-256 of
// every file it uses. Loading a pack validates the manifest, checks each file's hash, then checks the manifest against
// each ONNX session's real inputs and outputs.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { InferenceSession } from 'onnxruntime-node';
import { ModelPackMismatch } from './errors';
import { HASH_BUCKETS, MAX_TOKENS } from './tokenizer';
import type { VocabEntry } from './vocabulary';

export const GRAPH_NAMES = ['text', 'video', 'audio'] as const;
export type GraphName = (typeof GRAPH_NAMES)[number];

/** Element types as onnxruntime names them (`session.inputMetadata[i].type`). */
export const TENSOR_DTYPES = ['float32', 'float16', 'float64', 'uint8', 'int8', 'int32', 'int64', 'bool'] as const;
export type TensorDType = (typeof TENSOR_DTYPES)[number];

const Dim = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^[A-Za-z0-9_+*]+$' })]);

const TensorSpecSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    dtype: Type.Union(TENSOR_DTYPES.map((d) => Type.Literal(d))),
    /** Fixed sizes are numbers; symbolic ones strings over F, H, W, P, BH, BW, numbers, + and *, e.g. "P+F", "F*2000". */
    shape: Type.Array(Dim),
  },
  { additionalProperties: false },
);

const GraphSpecSchema = Type.Object(
  {
    file: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*\\.onnx$' }),
    inputs: Type.Array(TensorSpecSchema, { minItems: 1 }),
    outputs: Type.Array(TensorSpecSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

const PositiveInt = Type.Integer({ minimum: 1 });

/**
 * An optional upscaler: the sizes it lists render at 1/scale of their width and height through video.onnx, and this
 * graph (uint8 RGB frames [F,H,W,3] in, [F,H*scale,W*scale,3] out) brings the frames to the size asked for.
 */
const UpscalerSpecSchema = Type.Object(
  {
    file: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*\\.onnx$' }),
    model: Type.String({ minLength: 1 }),
    scale: Type.Integer({ minimum: 2, maximum: 8 }),
    sizes: Type.Array(Type.String({ pattern: '^[1-9][0-9]*x[1-9][0-9]*$' }), { minItems: 1, uniqueItems: true }),
    /** SHA-256 of the .onnx file: the engine refuses a file that is not the one the pack was built with. */
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    source: Type.Object({
      package: Type.String({ minLength: 1 }),
      files: Type.Array(Type.Object({ path: Type.String({ minLength: 1 }), sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }) })),
      code_license: Type.String({ minLength: 1 }),
      weights_license: Type.String({ minLength: 1 }),
    }),
    inputs: Type.Array(TensorSpecSchema, { minItems: 1, maxItems: 1 }),
    outputs: Type.Array(TensorSpecSchema, { minItems: 1, maxItems: 1 }),
  },
  { additionalProperties: false },
);

// Extra top-level fields are allowed, so a newer pack can describe more than this engine reads; the tensors are strict,
// because a misspelt key there would silently change what the graphs are checked against.
export const ManifestSchema = Type.Object({
  name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
  version: Type.String({ minLength: 1 }),
  description: Type.String(),
  fps: PositiveInt,
  sample_rate_hz: PositiveInt,
  frames_per_chunk: PositiveInt,
  samples_per_frame: PositiveInt,
  max_bodies: PositiveInt,
  resolutions: Type.Array(Type.String({ pattern: '^[1-9][0-9]*x[1-9][0-9]*$' }), { minItems: 1, uniqueItems: true }),
  styles: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, uniqueItems: true }),
  cameras: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, uniqueItems: true }),
  tokenizer: Type.Object(
    {
      kind: Type.Literal('word-hash'),
      vocab: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*\\.json$' }),
      /** The vocabulary's words with the scene features each sets (remixing needs them); a pack may ship none. */
      features: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*\\.json$' })),
      max_tokens: PositiveInt,
      hash_buckets: PositiveInt,
    },
    { additionalProperties: false },
  ),
  cameo: Type.Object({ texture: Type.Tuple([PositiveInt, PositiveInt, Type.Literal(3)]), voice: Type.Tuple([PositiveInt]) }, { additionalProperties: false }),
  audio_carry_frames: Type.Integer({ minimum: 0 }),
  graphs: Type.Object({ text: GraphSpecSchema, video: GraphSpecSchema, audio: GraphSpecSchema }, { additionalProperties: false }),
  upscaler: Type.Optional(UpscalerSpecSchema),
  /**
   * SHA-256 (hex) of every file the manifest names (the graphs, the tokenizer's files, the upscaler), by file name: the
   * engine refuses a file that is not the one the pack was built with, so `name@version` stands for exactly these
   * bytes, and the content credentials of each video state them (docs/architecture.md, "Content credentials").
   */
  files: Type.Record(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }), Type.String({ pattern: '^[0-9a-f]{64}$' })),
});

export type ModelPackManifest = Static<typeof ManifestSchema>;
export type GraphSpec = Static<typeof GraphSpecSchema>;
export type UpscalerSpec = Static<typeof UpscalerSpecSchema>;
export type TensorSpec = Static<typeof TensorSpecSchema>;
export type ManifestDim = number | string;

/**
 * The tensors the engine feeds and reads, by graph. A pack may declare extra outputs (they are ignored), but its
 * inputs must be exactly these, because the engine has nothing to feed any other.
 */
export const ENGINE_TENSORS: Record<GraphName, { inputs: readonly string[]; outputs: readonly string[] }> = {
  text: { inputs: ['tokens', 'seed', 'aspect'], outputs: ['bodies', 'initial_state', 'world', 'ambient'] },
  video: {
    inputs: [
      'bodies',
      'world',
      'state_in',
      'start_frame',
      'num_frames',
      'height',
      'width',
      'style',
      'camera',
      'cameo_texture',
      'cameo_body',
      'backdrop',
      'backdrop_weight',
    ],
    outputs: ['frames', 'state_out', 'events'],
  },
  audio: { inputs: ['events', 'bodies', 'ambient', 'start_frame', 'voice', 'cameo_body'], outputs: ['audio'] },
};

/** A resolution string of the manifest ("1280x720": width x height, as the Videos API writes sizes). */
export function parseSize(size: string): { width: number; height: number } | undefined {
  const m = /^([1-9][0-9]{0,4})x([1-9][0-9]{0,4})$/.exec(size);
  return m ? { width: Number(m[1]), height: Number(m[2]) } : undefined;
}

/**
 * Evaluates a shape against known sizes: numbers stay, symbolic dims ("F", "P+F", "F*2000") are computed from `vars`;
 * a dim naming an unknown variable comes back as undefined (any size).
 */
export function evalShape(shape: readonly ManifestDim[], vars: Record<string, number>): (number | undefined)[] {
  return shape.map((d) => (typeof d === 'number' ? d : evalDim(d, vars)));
}

function evalDim(expr: string, vars: Record<string, number>): number | undefined {
  let sum = 0;
  for (const term of expr.split('+')) {
    let product = 1;
    for (const factor of term.split('*')) {
      if (/^[0-9]+$/.test(factor)) product *= Number(factor);
      else if (vars[factor] !== undefined) product *= vars[factor]!;
      else return undefined;
    }
    sum += product;
  }
  return sum;
}

export function formatShape(shape: readonly (ManifestDim | undefined)[]): string {
  return `[${shape.map((d) => (d === undefined || d === '' ? '?' : typeof d === 'string' ? d : String(d))).join(',')}]`;
}

export function tensorSpec(manifest: ModelPackManifest, graph: GraphName, kind: 'inputs' | 'outputs', name: string): TensorSpec {
  const spec = manifest.graphs[graph][kind].find((t) => t.name === name);
  if (!spec) throw new ModelPackMismatch(manifest.name, `manifest.json: graphs.${graph}.${kind} has no '${name}'`);
  return spec;
}

/** Reads and validates manifest.json; every problem names the field, what was expected and what was found. */
export function readManifest(dir: string): ModelPackManifest {
  const file = path.join(dir, 'manifest.json');
  const packName = path.basename(dir);
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ModelPackMismatch(packName, `no manifest.json in ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new ModelPackMismatch(packName, `manifest.json is not valid JSON: ${(err as Error).message}`);
  }
  const first = Value.Errors(ManifestSchema, parsed).First();
  if (first) {
    const field = first.path === '' ? '(top level)' : first.path.slice(1).replace(/\//g, '.');
    const got = first.value === undefined ? 'nothing' : JSON.stringify(first.value)?.slice(0, 80);
    throw new ModelPackMismatch(packName, `manifest.json field ${field}: ${first.message.toLowerCase()}, got ${got}`);
  }
  const manifest = parsed as ModelPackManifest;
  checkManifestConsistency(manifest);
  return manifest;
}

/** Cross-field rules the engine relies on; a pack that breaks one could load but would render wrongly. */
function checkManifestConsistency(m: ModelPackManifest): void {
  const problems: string[] = [];
  if (m.samples_per_frame * m.fps !== m.sample_rate_hz) {
    problems.push(`samples_per_frame (${m.samples_per_frame}) x fps (${m.fps}) is not sample_rate_hz (${m.sample_rate_hz})`);
  }
  if (m.tokenizer.max_tokens !== MAX_TOKENS || m.tokenizer.hash_buckets !== HASH_BUCKETS) {
    problems.push(
      `tokenizer says ${m.tokenizer.max_tokens} tokens over ${m.tokenizer.hash_buckets} hash buckets; the engine's word-hash tokenizer makes ${MAX_TOKENS} tokens over ${HASH_BUCKETS}`,
    );
  }
  for (const graph of GRAPH_NAMES) {
    const spec = m.graphs[graph];
    for (const kind of ['inputs', 'outputs'] as const) {
      const seen = new Set<string>();
      for (const t of spec[kind]) {
        if (seen.has(t.name)) problems.push(`graphs.${graph}.${kind} names '${t.name}' twice`);
        seen.add(t.name);
      }
    }
    const declared = new Set(spec.inputs.map((t) => t.name));
    for (const name of ENGINE_TENSORS[graph].inputs) if (!declared.has(name)) problems.push(`graphs.${graph}.inputs lacks '${name}', which the engine feeds`);
    for (const name of declared)
      if (!ENGINE_TENSORS[graph].inputs.includes(name)) problems.push(`graphs.${graph}.inputs names '${name}', which the engine cannot feed`);
    const outputs = new Set(spec.outputs.map((t) => t.name));
    for (const name of ENGINE_TENSORS[graph].outputs) if (!outputs.has(name)) problems.push(`graphs.${graph}.outputs lacks '${name}', which the engine reads`);
  }
  if (problems.length === 0) {
    // Shapes that must agree between graphs and with the manifest's own numbers.
    const shape = (g: GraphName, kind: 'inputs' | 'outputs', name: string) => m.graphs[g][kind].find((t) => t.name === name)!.shape;
    const same = (a: readonly ManifestDim[], b: readonly ManifestDim[]) => JSON.stringify(a) === JSON.stringify(b);
    const expect = (what: string, actual: readonly ManifestDim[], wanted: readonly ManifestDim[]) => {
      if (!same(actual, wanted)) problems.push(`${what} is ${formatShape(actual)}, expected ${formatShape(wanted)}`);
    };
    expect('graphs.text.inputs tokens shape', shape('text', 'inputs', 'tokens'), [m.tokenizer.max_tokens]);
    expect('graphs.video.inputs state_in shape', shape('video', 'inputs', 'state_in'), shape('text', 'outputs', 'initial_state'));
    expect('graphs.video.outputs state_out shape', shape('video', 'outputs', 'state_out'), shape('video', 'inputs', 'state_in'));
    expect('graphs.video.inputs bodies shape', shape('video', 'inputs', 'bodies'), shape('text', 'outputs', 'bodies'));
    expect('graphs.audio.inputs bodies shape', shape('audio', 'inputs', 'bodies'), shape('text', 'outputs', 'bodies'));
    expect('graphs.video.inputs world shape', shape('video', 'inputs', 'world'), shape('text', 'outputs', 'world'));
    expect('graphs.audio.inputs ambient shape', shape('audio', 'inputs', 'ambient'), shape('text', 'outputs', 'ambient'));
    expect('graphs.video.inputs cameo_texture shape', shape('video', 'inputs', 'cameo_texture'), m.cameo.texture);
    expect('graphs.audio.inputs voice shape', shape('audio', 'inputs', 'voice'), m.cameo.voice);
    expect('graphs.text.outputs bodies shape', shape('text', 'outputs', 'bodies').slice(0, 1), [m.max_bodies]);
    const events = shape('video', 'outputs', 'events');
    expect('graphs.video.outputs events shape', events.slice(0, 1), ['F']);
    expect('graphs.audio.inputs events shape', shape('audio', 'inputs', 'events'), ['P+F', ...events.slice(1)]);
    expect('graphs.video.outputs frames shape', shape('video', 'outputs', 'frames'), ['F', 'H', 'W', 3]);
    expect('graphs.audio.outputs audio shape', shape('audio', 'outputs', 'audio'), [`F*${m.samples_per_frame}`, 2]);
    if (events.slice(1).some((d) => typeof d !== 'number')) problems.push('graphs.video.outputs events must have fixed sizes after F');
    for (const res of m.resolutions) {
      const size = parseSize(res);
      if (!size || size.width % 2 !== 0 || size.height % 2 !== 0)
        problems.push(`resolution ${res} is not WIDTHxHEIGHT with even sizes (H.264 4:2:0 needs them)`);
    }
    const named = packFileNames(m);
    for (const file of named) if (m.files[file] === undefined) problems.push(`files lacks ${file}, which the pack uses`);
    for (const file of Object.keys(m.files)) if (!named.includes(file)) problems.push(`files names ${file}, which the manifest does not use`);
    const up = m.upscaler;
    if (up && m.files[up.file] !== undefined && m.files[up.file] !== up.sha256) problems.push(`files gives ${up.file} another SHA-256 than upscaler.sha256`);
    if (up) {
      for (const res of up.sizes) {
        const size = parseSize(res);
        if (!m.resolutions.includes(res)) problems.push(`upscaler.sizes names ${res}, which is not one of resolutions`);
        else if (size && (size.width % up.scale !== 0 || size.height % up.scale !== 0))
          problems.push(`upscaler.sizes names ${res}, whose sides do not divide by its scale ${up.scale}`);
      }
      expect('upscaler.inputs shape', up.inputs[0]!.shape, ['F', 'H', 'W', 3]);
      expect('upscaler.outputs shape', up.outputs[0]!.shape, ['F', `H*${up.scale}`, `W*${up.scale}`, 3]);
      if (up.inputs[0]!.dtype !== 'uint8' || up.outputs[0]!.dtype !== 'uint8') problems.push('upscaler frames must be uint8 in and out');
    }
  }
  if (problems.length > 0) throw new ModelPackMismatch(m.name, `manifest.json: ${problems.join('; ')}`);
}

/** Every file a pack's manifest names: its three graphs, its tokenizer's files and its upscaler. */
export function packFileNames(m: ModelPackManifest): string[] {
  return [
    ...GRAPH_NAMES.map((g) => m.graphs[g].file),
    m.tokenizer.vocab,
    ...(m.tokenizer.features !== undefined ? [m.tokenizer.features] : []),
    ...(m.upscaler ? [m.upscaler.file] : []),
  ];
}

/** SHA-256 of a file, once per process for each version of it (path, size, mtime): engines re-open packs. */
const fileHashes = new Map<string, string>();
export function fileSha256(file: string): string {
  const stat = fs.statSync(file);
  const key = `${path.resolve(file)}|${stat.size}|${stat.mtimeMs}`;
  let hash = fileHashes.get(key);
  if (hash === undefined) {
    const h = createHash('sha256');
    const fd = fs.openSync(file, 'r');
    try {
      // In pieces: a real pack's graphs are gigabytes, more than one Buffer holds.
      const piece = Buffer.allocUnsafe(8 * 1024 * 1024);
      for (let n: number; (n = fs.readSync(fd, piece, 0, piece.length, null)) > 0; ) h.update(piece.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
    hash = h.digest('hex');
    fileHashes.set(key, hash);
  }
  return hash;
}

/** Checks the graphs' and the tokenizer's files against `files` (the upscaler is checked when it is opened). */
function checkFileHashes(dir: string, m: ModelPackManifest): void {
  const problems: string[] = [];
  for (const name of packFileNames(m)) {
    if (name === m.upscaler?.file) continue;
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) continue; // named as missing by the loader, with its role
    const actual = fileSha256(file);
    if (actual !== m.files[name]) problems.push(`${name} has SHA-256 ${actual}, the manifest says ${m.files[name]}`);
  }
  if (problems.length > 0) throw new ModelPackMismatch(m.name, problems.join('; '));
}

/** Checks one session against its manifest entry; returns every difference, each naming the file, tensor and what differs. */
export function compareGraph(spec: GraphSpec, session: Pick<InferenceSession, 'inputMetadata' | 'outputMetadata'>): string[] {
  const problems: string[] = [];
  for (const kind of ['input', 'output'] as const) {
    const declared = kind === 'input' ? spec.inputs : spec.outputs;
    const actual = kind === 'input' ? session.inputMetadata : session.outputMetadata;
    const byName = new Map(actual.map((m) => [m.name, m]));
    for (const t of declared) {
      const real = byName.get(t.name);
      if (!real) {
        problems.push(`${spec.file} has no ${kind} '${t.name}'`);
        continue;
      }
      if (!real.isTensor) {
        problems.push(`${spec.file} ${kind} ${t.name}: manifest says a ${t.dtype} tensor, the graph has a non-tensor value`);
        continue;
      }
      if (real.type !== t.dtype || !shapesCompatible(t.shape, real.shape)) {
        problems.push(
          `${spec.file} ${kind} ${t.name}: manifest says ${t.dtype} ${formatShape(t.shape)}, the graph has ${real.type} ${formatShape(real.shape)}`,
        );
      }
    }
    const names = new Set(declared.map((t) => t.name));
    for (const m of actual) {
      if (!names.has(m.name)) problems.push(`${spec.file} has ${kind === 'input' ? 'an input' : 'an output'} '${m.name}' the manifest does not name`);
    }
  }
  return problems;
}

/**
 * Same rank; a fixed manifest dim must equal a fixed graph dim. A symbolic manifest dim accepts anything, and so does
 * a symbolic graph dim (the graph takes any size there; the engine checks the sizes it actually gets back).
 */
function shapesCompatible(manifest: readonly ManifestDim[], graph: readonly (number | string)[]): boolean {
  if (manifest.length !== graph.length) return false;
  return manifest.every((d, i) => typeof d === 'string' || typeof graph[i] === 'string' || graph[i] === d);
}

export interface LoadedModelPack {
  dir: string;
  manifest: ModelPackManifest;
  /** The tokenizer's vocabulary, in id order. */
  vocab: string[];
  /** The words' scene features (`tokenizer.features`), when the pack ships them. */
  features?: readonly VocabEntry[];
  sessions: Record<GraphName, InferenceSession>;
}

/** Opens one graph of a pack; the engine passes one backed by its session cache. */
export type SessionFactory = (graph: GraphName, file: string) => Promise<InferenceSession>;

/**
 * Reads and validates a pack and opens its sessions, refusing one whose graphs differ from its manifest. The factory
 * owns the sessions it made (they may be shared through a cache), so on failure the caller releases them.
 */
export async function loadModelPack(dir: string, createSession: SessionFactory): Promise<LoadedModelPack> {
  const manifest = readManifest(dir);
  checkFileHashes(dir, manifest);
  const vocab = readVocab(dir, manifest);
  const features = readFeatures(dir, manifest, vocab);
  const sessions = {} as Record<GraphName, InferenceSession>;
  const problems: string[] = [];
  for (const graph of GRAPH_NAMES) {
    const spec = manifest.graphs[graph];
    const file = path.join(dir, spec.file);
    if (!fs.existsSync(file)) throw new ModelPackMismatch(manifest.name, `${spec.file} (the ${graph} graph) is missing from ${dir}`);
    let session: InferenceSession;
    try {
      session = await createSession(graph, file);
    } catch (err) {
      // Not a ModelPackMismatch: this is as often the provider failing (no GPU adapter) as the file being bad, and the
      // engine tries the next provider for the one but not the other.
      throw new Error(`${spec.file} could not be loaded: ${firstLine(err)}`);
    }
    sessions[graph] = session;
    problems.push(...compareGraph(spec, session));
  }
  if (problems.length > 0) throw new ModelPackMismatch(manifest.name, problems.join('; '));
  return { dir, manifest, vocab, ...(features ? { features } : {}), sessions };
}

function readVocab(dir: string, manifest: ModelPackManifest): string[] {
  const file = path.join(dir, manifest.tokenizer.vocab);
  let words: unknown;
  try {
    words = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ModelPackMismatch(manifest.name, `${manifest.tokenizer.vocab} could not be read: ${firstLine(err)}`);
  }
  if (!Array.isArray(words) || words.length === 0 || !words.every((w) => typeof w === 'string' && w.length > 0)) {
    throw new ModelPackMismatch(manifest.name, `${manifest.tokenizer.vocab} must be a non-empty JSON array of words`);
  }
  if (new Set(words).size !== words.length) throw new ModelPackMismatch(manifest.name, `${manifest.tokenizer.vocab} lists a word twice`);
  return words as string[];
}

function readFeatures(dir: string, manifest: ModelPackManifest, vocab: readonly string[]): VocabEntry[] | undefined {
  const name = manifest.tokenizer.features;
  if (name === undefined) return undefined;
  let entries: unknown;
  try {
    entries = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
  } catch (err) {
    throw new ModelPackMismatch(manifest.name, `${name} could not be read: ${firstLine(err)}`);
  }
  const words = Array.isArray(entries) ? entries.map((e) => (typeof e === 'object' && e !== null ? (e as { word?: unknown }).word : undefined)) : [];
  if (!Array.isArray(entries) || words.length !== vocab.length || words.some((w, i) => w !== vocab[i])) {
    throw new ModelPackMismatch(manifest.name, `${name} must be a JSON array of {word, ...features}, one per word of ${manifest.tokenizer.vocab} in its order`);
  }
  return entries as VocabEntry[];
}

export function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return (
    text
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim()
      .slice(0, 400) ?? 'unknown error'
  );
}

// `npm run bench:inference`: the realtime factor (seconds of video rendered per second of compute) of the model pack at
// 256x256, 512x512 and 1280x720, and of its audio, on the CPU with 1 and 2 intra-op threads, and on WebGPU / CUDA where
// they work. Prints a table and writes the results as JSON to bench-results/.
//
// Flags: --chunks N (measured 24-frame chunks per cell, after one warm-up chunk; default 6), --pack DIR.
// Each cell reports the realtime factor of the median chunk (robust to other processes on a shared machine; the targets
// are judged on it) and of the total (seconds of media / seconds of compute over all its chunks).
import fs from 'node:fs';
import os from 'node:os';
import { describeMachine, machineInfo } from './bench/machine';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../infra/config';
import { createLogger } from '../infra/logger';
import { createEngine, type Engine, type Scene } from '../gpu-workers/engine/engine';
import type { ExecutionProvider } from '../gpu-workers/engine/sessions';
import { fmt, renderTable, type Cell } from './bench/table';

// The targets of issue #3, reported as PASS/MISS rather than an exit code: a loaded machine should still give numbers.
const CPU_TARGET = { size: '256x256', threads: 2, factor: 5 };
const GPU_TARGET = { size: '1280x720', factor: 50 };
const SIZES = ['256x256', '512x512', '1280x720'] as const;
const CPU_THREADS = [1, 2] as const;
/** Several bodies, collisions and a strobe: the graphs do their full work per frame. */
const PROMPT = 'four bouncy red and blue balls collide and bounce fast, strobe at 3 hz';
const SEED = 42;

interface Row {
  provider: ExecutionProvider;
  threads: number | 'default';
  what: string;
  frames: number;
  computeS: number;
  /** Seconds of compute of each measured chunk. */
  chunkS: number[];
  realtimeFactor: number;
  medianRealtimeFactor: number;
  target?: { factor: number; pass: boolean };
}

interface Unavailable {
  provider: ExecutionProvider;
  reason: string;
}

function parseArgs(argv: readonly string[]): { chunks: number; pack?: string } {
  const args: { chunks: number; pack?: string } = { chunks: 6 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = inline ?? argv[++i] ?? '';
    if (flag === '--chunks' && /^[1-9][0-9]*$/.test(value)) args.chunks = Number(value);
    else if (flag === '--pack' && value !== '') args.pack = path.resolve(value);
    else throw new Error(`bad argument ${JSON.stringify(argv[i - (inline ? 0 : 1)])}; usage: bench-inference [--chunks N] [--pack DIR]`);
  }
  return args;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Renders `chunks` consecutive chunks at `size` after one unmeasured one, timing video and audio separately. */
async function measure(engine: Engine, size: string, chunks: number): Promise<{ videoS: number[]; audioS: number[]; frames: number }> {
  const fpc = engine.pack.manifest.frames_per_chunk;
  const scene: Scene = await engine.describeScene(PROMPT, SEED, size);
  let state: ArrayLike<number> = scene.initialState;
  let previous: Float32Array | undefined;
  const videoS: number[] = [];
  const audioS: number[] = [];
  for (let i = 0; i <= chunks; i++) {
    const startFrame = i * fpc;
    let t = performance.now();
    const video = await engine.renderVideoChunk({ scene, state, startFrame, numFrames: fpc, size, style: 'cinematic', camera: 'pan' });
    const v = (performance.now() - t) / 1000;
    t = performance.now();
    await engine.renderAudioChunk({ scene, events: engine.eventWindow(previous, video.events, startFrame), startFrame, numFrames: fpc });
    const a = (performance.now() - t) / 1000;
    // Chunk 0 is the warm-up at this size (first allocation of its buffers); it is not counted.
    if (i > 0) {
      videoS.push(v);
      audioS.push(a);
    }
    state = video.state;
    previous = video.events;
  }
  return { videoS, audioS, frames: chunks * fpc };
}

function row(provider: ExecutionProvider, threads: number, what: string, chunkS: number[], framesPerChunk: number, fps: number): Row {
  const computeS = chunkS.reduce((a, b) => a + b, 0);
  const frames = chunkS.length * framesPerChunk;
  return {
    provider,
    threads: threads || 'default',
    what,
    frames,
    computeS,
    chunkS,
    realtimeFactor: frames / fps / computeS,
    medianRealtimeFactor: framesPerChunk / fps / median(chunkS),
  };
}

async function benchProvider(provider: ExecutionProvider, threads: number, chunks: number, packDir: string | undefined, rows: Row[]): Promise<void> {
  const config = loadConfig();
  const engine = await createEngine({ config, logger: createLogger({ level: 'silent', name: 'bench' }), provider, threads, ...(packDir ? { packDir } : {}) });
  try {
    const { fps, frames_per_chunk: fpc } = engine.pack.manifest;
    const audioS: number[] = [];
    for (const size of SIZES) {
      process.stderr.write(`[bench] ${provider} threads=${threads || 'default'} ${size}: ${chunks} chunks\n`);
      const m = await measure(engine, size, chunks);
      const r = row(provider, threads, `video ${size}`, m.videoS, fpc, fps);
      if (provider === 'cpu' && size === CPU_TARGET.size && threads === CPU_TARGET.threads)
        r.target = { factor: CPU_TARGET.factor, pass: r.medianRealtimeFactor >= CPU_TARGET.factor };
      if (provider !== 'cpu' && size === GPU_TARGET.size) r.target = { factor: GPU_TARGET.factor, pass: r.medianRealtimeFactor >= GPU_TARGET.factor };
      rows.push(r);
      audioS.push(...m.audioS);
    }
    // Audio does not depend on the picture size: one row over every chunk rendered above.
    rows.push(row(provider, threads, `audio ${engine.pack.manifest.sample_rate_hz / 1000} kHz stereo`, audioS, fpc, fps));
  } finally {
    await engine.close();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const loadAverageAtStart = os.loadavg();
  const rows: Row[] = [];
  const unavailable: Unavailable[] = [];
  for (const threads of CPU_THREADS) await benchProvider('cpu', threads, args.chunks, args.pack, rows);
  for (const provider of ['cuda', 'webgpu'] as const) {
    try {
      await benchProvider(provider, 0, args.chunks, args.pack, rows);
    } catch (err) {
      const reason = (err as Error).message.replace(/^INFERENCE_EP=\w+: no execution provider works here \(\w+: /, '').replace(/\)$/, '');
      unavailable.push({ provider, reason });
      process.stderr.write(`[bench] ${provider}: not available: ${reason}\n`);
    }
  }

  const machine = { ...machineInfo(loadAverageAtStart), onnxruntime: (require('onnxruntime-node/package.json') as { version: string }).version };
  const results = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    args,
    prompt: PROMPT,
    seed: SEED,
    machine,
    targets: { cpu: CPU_TARGET, gpu: GPU_TARGET },
    rows,
    unavailable,
  };

  const out: string[] = [];
  out.push(`reelforge inference benchmark, ${results.startedAt}`);
  out.push(`machine: ${describeMachine(machine, `onnxruntime-node ${machine.onnxruntime}`)}`);
  out.push(
    `run: ${args.chunks} chunks of 24 frames per cell after one warm-up chunk; realtime factor = seconds of media / seconds of compute (targets judged on the median chunk)`,
  );
  out.push(
    `targets: >= ${CPU_TARGET.factor}x at ${CPU_TARGET.size} on the CPU with ${CPU_TARGET.threads} threads; >= ${GPU_TARGET.factor}x at ${GPU_TARGET.size} on an H100-class GPU`,
  );
  out.push('');
  const x = (v: number) => `${fmt(v, v < 10 ? 2 : 1)}x`;
  const table: Cell[][] = rows.map((r) => [
    r.provider,
    String(r.threads),
    r.what,
    r.frames,
    fmt(r.computeS, 3),
    fmt(median(r.chunkS) * 1000, 1),
    x(r.medianRealtimeFactor),
    x(r.realtimeFactor),
    r.target ? `${r.target.pass ? 'PASS' : 'MISS'} (>= ${r.target.factor}x)` : '-',
  ]);
  unavailable.forEach((u, i) => table.push([u.provider, '-', `not available (${i + 1})`, '', '', '', '', '', '-']));
  out.push(
    renderTable(['provider', 'threads', 'what', 'frames', 'compute s', 'median ms/chunk', 'realtime (median)', 'realtime (total)', 'target'], table, [
      'l',
      'l',
      'l',
      'r',
      'r',
      'r',
      'r',
      'r',
      'l',
    ]),
  );
  unavailable.forEach((u, i) => out.push(`(${i + 1}) ${u.provider}: ${u.reason}`));
  process.stdout.write(`${out.join('\n')}\n`);

  const dir = path.resolve(__dirname, '..', 'bench-results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `inference-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\nJSON: ${path.relative(process.cwd(), file)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-inference: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});

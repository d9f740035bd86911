// ONNX Runtime sessions: one cached session per (graph file, execution provider, thread count), shared by every engine
// in the process, and the choice of execution provider (cpu | webgpu | cuda, or auto: the best that actually works).
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { InferenceEp } from '../../infra/config';
import type { Logger } from '../../infra/logger';
import { firstLine } from './manifest';

export type ExecutionProvider = Exclude<InferenceEp, 'auto'>;

/** Best first: auto takes the first of these that loads the pack and renders the warm-up chunk. */
export const AUTO_ORDER: readonly ExecutionProvider[] = ['cuda', 'webgpu', 'cpu'];

export function sessionOptions(provider: ExecutionProvider, threads: number): ort.InferenceSession.SessionOptions {
  return {
    // ORT appends the CPU provider behind any other, so nodes a GPU provider lacks still run.
    executionProviders: [provider],
    // 0 = ORT's default (one thread per physical core).
    ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
    // The graphs are chains with Loops; parallel execution of branches buys nothing and costs a second pool.
    executionMode: 'sequential',
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // Warnings (e.g. shape hints on dynamic outputs) would otherwise go to stderr, outside the JSON logs.
    logSeverityLevel: 3,
    // Each session has its own intra-op pool, and an idle pool's threads spin for a while after every run: the audio
    // session's spinning threads then take the cores the next video chunk needs (2 threads ran 3x slower than 1 on two
    // cores). Parked threads cost about a tenth at 256x256 on a quiet machine and nothing under contention.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

interface PoolEntry {
  session: Promise<ort.InferenceSession>;
  refs: number;
}

/**
 * Reference-counted sessions: a second engine on the same pack and provider reuses the first one's sessions (ORT
 * sessions are safe to run concurrently), and a session is released when its last user closes.
 */
export class SessionPool {
  private readonly entries = new Map<string, PoolEntry>();

  static key(file: string, provider: ExecutionProvider, threads: number): string {
    return `${path.resolve(file)}|${provider}|${threads}`;
  }

  async acquire(file: string, provider: ExecutionProvider, threads: number): Promise<ort.InferenceSession> {
    const key = SessionPool.key(file, provider, threads);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { session: ort.InferenceSession.create(file, sessionOptions(provider, threads)), refs: 0 };
      this.entries.set(key, entry);
      // A failed creation must not stay cached: the next attempt (another provider, a fixed file) tries again.
      entry.session.catch(() => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      });
    }
    entry.refs++;
    try {
      return await entry.session;
    } catch (err) {
      entry.refs--;
      throw err;
    }
  }

  async release(file: string, provider: ExecutionProvider, threads: number): Promise<void> {
    const key = SessionPool.key(file, provider, threads);
    const entry = this.entries.get(key);
    if (!entry) return;
    entry.refs--;
    if (entry.refs > 0) return;
    this.entries.delete(key);
    const session = await entry.session.catch(() => undefined);
    await session?.release();
  }

  /** How many distinct sessions are open (for tests and diagnostics). */
  get size(): number {
    return this.entries.size;
  }
}

/** The process-wide pool: "one cached session per model pack and execution provider". */
export const sessionPool = new SessionPool();

/**
 * The CUDA provider is not in the npm tarball (it is fetched at install time unless ONNXRUNTIME_NODE_INSTALL=skip), so
 * auto only tries it when its library is beside ORT's; otherwise ORT would print a native error on every start.
 */
export function cudaBinaries(): { present: boolean; dir: string } {
  const dir = path.join(path.dirname(require.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
  const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  return { present: fs.existsSync(path.join(dir, lib)), dir: path.normalize(dir) };
}

export interface ProviderChoice<T> {
  provider: ExecutionProvider;
  value: T;
  /** Why each better provider was passed over, in the order tried. */
  rejected: { provider: ExecutionProvider; reason: string }[];
}

export class ProviderUnavailable extends Error {
  constructor(
    readonly requested: InferenceEp,
    readonly reasons: { provider: ExecutionProvider; reason: string }[],
  ) {
    super(`INFERENCE_EP=${requested}: no execution provider works here (${reasons.map((r) => `${r.provider}: ${r.reason}`).join('; ')})`);
    this.name = 'ProviderUnavailable';
  }
}

/**
 * Picks the provider: the one asked for, or with `auto` the first of cuda, webgpu, cpu for which `attempt` succeeds;
 * `attempt` loads the pack on that provider and renders the warm-up, so "works" means it really ran. Logs the choice
 * and why the others were not taken.
 */
export async function chooseProvider<T>(
  requested: InferenceEp,
  attempt: (provider: ExecutionProvider) => Promise<T>,
  logger: Logger,
  options: { fatal?: (err: unknown) => boolean; probeCuda?: () => { present: boolean; dir: string } } = {},
): Promise<ProviderChoice<T>> {
  const candidates = requested === 'auto' ? AUTO_ORDER : [requested];
  const rejected: { provider: ExecutionProvider; reason: string }[] = [];
  for (const provider of candidates) {
    if (provider === 'cuda') {
      const cuda = (options.probeCuda ?? cudaBinaries)();
      if (!cuda.present) {
        rejected.push({
          provider,
          reason: `libonnxruntime_providers_cuda.so is not in ${cuda.dir} (install onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 on a machine with CUDA 12)`,
        });
        continue;
      }
    }
    try {
      const value = await attempt(provider);
      const why =
        requested === 'auto' ? (rejected.length === 0 ? 'the best provider, and it works' : 'the best provider that works') : 'asked for by INFERENCE_EP';
      logger.info({ requested, provider, why, rejected }, `inference provider: ${provider} (${why})`);
      return { provider, value, rejected };
    } catch (err) {
      if (options.fatal?.(err)) throw err;
      rejected.push({ provider, reason: ortReason(err) });
      if (requested !== 'auto') break;
      logger.debug({ provider, reason: ortReason(err) }, 'inference provider failed, trying the next');
    }
  }
  throw new ProviderUnavailable(requested, rejected);
}

/** The first line of an ORT error without the source path and assertion that precede the actual reason. */
export function ortReason(err: unknown): string {
  return firstLine(err)
    .replace(/\/onnxruntime_src\/\S+:\d+ [^\n]*? was false\. /, '')
    .replace(/\/onnxruntime_src\/\S+:\d+ /, '')
    .replace(/\[ONNXRuntimeError\] : \d+ : \w+ : /, '');
}

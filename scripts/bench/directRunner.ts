// The direct-run process of bench:pipeline (scripts/bench/direct.ts starts it): loads the engine as the GPU worker
// does (INFERENCE_EP, INFERENCE_THREADS, MODEL_PACK from the environment), says so on stdout, then renders one video
// per line of JSON on stdin (a DirectSpec) and answers each with one line: {"ok":true,"value":DirectRun} or
// {"ok":false,"error":"..."}. Ends when stdin closes.
import path from 'node:path';
import readline from 'node:readline';
import pino from 'pino';
import { createModerationActivities, loadPolicy } from '../../activities/moderation';
import { createMuxActivities } from '../../activities/mux';
import { createEngine } from '../../gpu-workers/engine/engine';
import { FsBlobStore } from '../../infra/blobs';
import { loadConfig } from '../../infra/config';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { createContentCredentials } from '../../infra/provenance/c2pa';
import { ensureDevSigningChain } from '../../infra/provenance/devChain';
import { cpuSeconds } from './cpu';
import { renderDirect, type DirectRunnerInfo, type DirectSpec } from './direct';

async function main(): Promise<void> {
  const blobsDir = process.argv[2];
  if (!blobsDir) throw new Error('usage: directRunner.ts <blobs folder>');
  const config = loadConfig();
  const silent = pino({ level: 'silent' });
  const engine = await createEngine({ config, logger: pino({ level: 'warn' }, pino.destination(2)) });
  const ffmpeg = createFfmpeg(config);
  const blobs = new FsBlobStore(blobsDir);
  // The bench signs as the product does: with the configured chain, or a development one beside its blobs.
  const dev = config.c2paSigningKeyPath ? undefined : ensureDevSigningChain(path.join(blobsDir, '..', 'c2pa'));
  const signing = dev ? { ...config, c2paSigningKeyPath: dev.keyPath, c2paSigningCertsPath: dev.certsPath } : config;
  const deps = {
    engine,
    ffmpeg,
    blobs,
    mux: createMuxActivities({ blobs, ffmpeg, logger: silent, contentCredentials: createContentCredentials(signing) }),
    moderation: createModerationActivities({ blobs, ffmpeg, logger: silent, policy: loadPolicy(config.moderationPolicyPath) }),
    cpu: () => cpuSeconds(process.pid, true),
    watermark: config.watermark,
  };
  const say = (message: unknown) => process.stdout.write(`${JSON.stringify(message)}\n`);
  const info: DirectRunnerInfo = {
    pid: process.pid,
    provider: engine.provider,
    threads: engine.report.threads,
    pack: `${engine.pack.name}@${engine.pack.version}`,
  };
  say({ ok: true, value: info });
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    try {
      say({ ok: true, value: await renderDirect(deps, JSON.parse(line) as DirectSpec) });
    } catch (err) {
      say({ ok: false, error: (err as Error).message });
    }
  }
  await engine.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`direct runner: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});

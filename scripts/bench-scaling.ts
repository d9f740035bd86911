// `npm run bench:scaling`: videos per minute with 1, 2 and 4 GPU-worker hosts beside one platform host (API,
// orchestration worker, projector), each host an `npm start` supervisor of its own on shared services (Temporal dev
// server, PostgreSQL, moto's S3), through scripts/harness/cluster.ts. Each step is a burst of 20 submissions of a 4 s
// 256x256 video. It reports each GPU host's busy fraction (time inside inference, from the GPU worker's /metrics,
// divided by wall time times GPU_CONCURRENCY) and the platform's CPU-seconds per video by role (API, orchestration
// worker, projector, Temporal, PostgreSQL, S3) from /proc: that figure times the videos per minute a GPU fleet makes
// says how many platform cores the fleet needs. On a small machine the GPU hosts share the CPU with the platform, so
// more hosts add little here: the CPU per video is the number that carries over.
// `-- --quick`: 1 and 2 GPU hosts, bursts of 4.
import os from 'node:os';
import { loadConfig } from '../infra/config';
import { Cleanup } from './bench/cleanup';
import { cpuSeconds, postgresCpuSeconds, treeCpuSeconds } from './bench/cpu';
import { scrapeInferenceSeconds } from './bench/gpuMetrics';
import { describeMachine, machineInfo } from './bench/machine';
import { writeResults } from './bench/results';
import { fmt, renderTable } from './bench/table';
import { startClusterServices, startHost, submitVideo, waitForWorkflow, type ClusterHost, type ClusterServices } from './harness/cluster';

const QUICK = process.argv.includes('--quick');
const GPU_HOSTS = QUICK ? [1, 2] : [1, 2, 4];
const BURST = QUICK ? 4 : 20;
const VIDEO = { prompt: 'a red ball bounces on a wooden floor', seconds: 4, size: '256x256' };
const PLATFORM_PARTS = ['api', 'orchestration-worker', 'projector', 'temporal', 'postgres', 's3'] as const;
type Part = (typeof PLATFORM_PARTS)[number];

const log = (line: string) => process.stderr.write(`[bench:scaling] ${line}\n`);

interface Step {
  gpuHosts: number;
  videos: number;
  wallSeconds: number;
  videosPerMinute: number;
  /** Per GPU host: seconds inside inference / (wall seconds x GPU_CONCURRENCY). */
  gpuBusy: number[];
  /** CPU seconds per video of each platform part, and of the GPU hosts together. */
  cpuPerVideo: Record<Part | 'gpu-hosts', number>;
  failed: number;
}

function platformCpu(services: ClusterServices, platform: ClusterHost): Record<Part, number> {
  const children = platform.runtime().children;
  const s3 = services.pids.s3();
  return {
    api: treeCpuSeconds(children.api!),
    'orchestration-worker': treeCpuSeconds(children['orchestration-worker']!),
    projector: treeCpuSeconds(children.projector!),
    temporal: services.pids.temporal ? cpuSeconds(services.pids.temporal, true) : NaN,
    postgres: postgresCpuSeconds(services.pids.postgres),
    s3: s3 ? treeCpuSeconds(s3) : NaN,
  };
}

/** Seconds the host's GPU worker has spent inside inference (reelforge_gpu_inference_seconds_total, all calls). */
function inferenceSeconds(host: ClusterHost): Promise<number> {
  const url = host.runtime().health?.['gpu-worker']?.url;
  if (!url) throw new Error(`GPU host ${host.name} recorded no health endpoint for its GPU worker in runtime.json`);
  return scrapeInferenceSeconds(url);
}

async function burst(
  services: ClusterServices,
  platform: ClusterHost,
  gpuHosts: ClusterHost[],
  count: number,
  seed0: number,
  concurrency: number,
): Promise<Step> {
  const gpuCpu = () => gpuHosts.reduce((n, h) => n + treeCpuSeconds(h.pid!), 0);
  const [cpu0, gpuCpu0, inference0] = [platformCpu(services, platform), gpuCpu(), await Promise.all(gpuHosts.map(inferenceSeconds))];
  const started = Date.now();
  const ids = await Promise.all(Array.from({ length: count }, (_, i) => submitVideo(platform, { ...VIDEO, seed: seed0 + i })));
  const outcomes = await Promise.all(ids.map((id) => waitForWorkflow(services, id, 60 * 60_000)));
  const wallSeconds = (Date.now() - started) / 1000;
  const [cpu1, gpuCpu1, inference1] = [platformCpu(services, platform), gpuCpu(), await Promise.all(gpuHosts.map(inferenceSeconds))];
  const perVideo = Object.fromEntries(PLATFORM_PARTS.map((p) => [p, (cpu1[p] - cpu0[p]) / count])) as Record<Part, number>;
  return {
    gpuHosts: gpuHosts.length,
    videos: count,
    wallSeconds,
    videosPerMinute: (count / wallSeconds) * 60,
    gpuBusy: inference1.map((v, i) => (v - inference0[i]!) / (wallSeconds * concurrency)),
    cpuPerVideo: { ...perVideo, 'gpu-hosts': (gpuCpu1 - gpuCpu0) / count },
    failed: outcomes.filter((o) => o !== 'COMPLETED').length,
  };
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAverageAtStart = os.loadavg();
  const concurrency = loadConfig().gpuConcurrency;
  const cleanup = new Cleanup();
  const { tmp, stopListening } = cleanup.begin(log, 'reelforge-bench-scaling-');
  try {
    log('starting the services (Temporal dev server, PostgreSQL, moto) and the platform host');
    const services = await startClusterServices({ dir: tmp, name: 'scaling' });
    cleanup.push('services', () => services.stop());
    const platform = await startHost(services, { name: 'platform', roles: ['api', 'orchestration-worker', 'projector'] });
    cleanup.push('platform host', () => platform.stop());
    const gpuHosts: ClusterHost[] = [];
    const steps: Step[] = [];
    for (const n of GPU_HOSTS) {
      while (gpuHosts.length < n) {
        log(`starting GPU host ${gpuHosts.length + 1}`);
        const host = await startHost(services, { name: `gpu-${gpuHosts.length + 1}`, roles: ['gpu-worker'], env: { GPU_CONCURRENCY: String(concurrency) } });
        cleanup.push(`GPU host ${host.name}`, () => host.stop());
        gpuHosts.push(host);
      }
      // A first video warms every host up (JIT, connections, the scene cache) outside the measured burst.
      if (steps.length === 0) await burst(services, platform, gpuHosts, 1, 1, concurrency);
      log(`${n} GPU host(s): a burst of ${BURST} videos`);
      const step = await burst(services, platform, gpuHosts, BURST, 1000 * n, concurrency);
      log(`${n} GPU host(s): ${fmt(step.videosPerMinute, 2)} videos/min`);
      steps.push(step);
    }
    const machine = machineInfo(loadAverageAtStart);
    const results = { quick: QUICK, video: VIDEO, burst: BURST, gpuConcurrency: concurrency, machine, steps };
    process.stdout.write(`${report(steps, concurrency)}\nmachine:  ${describeMachine(machine)}\nJSON: ${writeResults('scaling', startedAt, results)}\n`);
  } finally {
    await cleanup.run();
    stopListening();
  }
}

function report(steps: Step[], concurrency: number): string {
  const out: string[] = [];
  out.push(`bench:scaling: bursts of ${steps[0]?.videos ?? BURST} videos of ${VIDEO.seconds} s ${VIDEO.size}, GPU_CONCURRENCY=${concurrency}`);
  out.push('target: none beyond reporting; videos/min per GPU-host count, each GPU host busy fraction, platform CPU-s per video by role');
  out.push('');
  out.push(
    renderTable(
      ['GPU hosts', 'videos', 'failed', 'wall s', 'videos/min', 'GPU busy per host'],
      steps.map((s) => [s.gpuHosts, s.videos, s.failed, fmt(s.wallSeconds, 1), fmt(s.videosPerMinute, 2), s.gpuBusy.map((b) => fmt(b, 2)).join(' ')]),
    ),
  );
  out.push('');
  out.push('CPU-seconds per video (platform by role; the GPU hosts together for comparison):');
  const parts = [...PLATFORM_PARTS, 'gpu-hosts'] as const;
  out.push(
    renderTable(
      ['GPU hosts', ...parts, 'platform total'],
      steps.map((s) => [
        s.gpuHosts,
        ...parts.map((p) => fmt(s.cpuPerVideo[p], 2)),
        fmt(
          PLATFORM_PARTS.reduce((n, p) => n + s.cpuPerVideo[p], 0),
          2,
        ),
      ]),
    ),
  );
  const last = steps[steps.length - 1];
  if (last) {
    const platformPerVideo = PLATFORM_PARTS.reduce((n, p) => n + last.cpuPerVideo[p], 0);
    out.push('');
    out.push(
      `platform cores a fleet needs = CPU-s per video x videos per second: ${fmt(platformPerVideo, 2)} x (videos/min / 60); ` +
        `e.g. 100 videos/min needs ${fmt((platformPerVideo * 100) / 60, 1)} cores`,
    );
  }
  return out.join('\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:scaling failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});

// `npm run bench:pipeline`: whole videos through the whole platform (HTTP API, Temporal workflows, event store,
// projector, GPU worker on the real engine): end-to-end latency with its breakdown by stage, the orchestration overhead
// against the same render and mux run directly in one process, videos per minute with concurrent submitters, the GPU
// worker's busy fraction in each throughput level, POST-to-first-chunk latency and POST to first playable preview (the
// HLS playlist's init section and first segment fetched). It ends with issue #20's targets, each measured value beside
// its goal: platform CPU per second of video (each latency cell), the GPU busy fraction (the 20-submitter level of each
// GPU concurrency), platform-added latency (4 s 256x256 in ms, 12 s 720x1280 as a share of the direct render) and first
// playable preview (4 s 720x1280). Prints tables and writes the results as JSON to bench-results/.
//
// Flags: --runs N (per latency cell and for the preview, default 3), --levels 1,5,20 (concurrent submitters),
// --min-videos N (a throughput level runs at least this many videos, rounded up to whole rounds of its submitters;
// default 6), --level-seconds N (no new submission after this long in a level; default 45), --gpu-concurrency 1,2 (GPU
// worker concurrencies the throughput runs at; default GPU_CONCURRENCY and 2), --skip-latency, --skip-preview,
// --skip-throughput, --gpu-in-process (the GPU worker
// inside this process, as the API tests run it, instead of its own process running gpu-workers/worker.ts as deployed),
// --dedicated-core (with no accelerator, the last core stands in for one: the GPU worker process and the direct run have
// it to themselves with one inference thread, and the platform, its servers included, runs on the other cores, as it
// would beside a GPU; the Temporal server and PostgreSQL are then the bench's own, whatever the environment says).
// Servers: TEMPORAL_ADDRESS and DATABASE_URL when set, else a throw-away Temporal dev server (temporary SQLite) and
// embedded PostgreSQL, both in a temporary folder removed at the end. Stores live in fresh schemas, dropped at the end.
import fs from 'node:fs';
import os from 'node:os';
import { describeMachine, machineInfo, type MachineInfo } from './bench/machine';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { bundleWorkflowCode } from '@temporalio/worker';
import pino from 'pino';
import { createEngine } from '../gpu-workers/engine/engine';
import { loadConfig, type Config } from '../infra/config';
import type { RecordedEvent } from '../infra/eventstore/port';
import { startEmbeddedPostgres } from '../infra/postgres/embedded';
import { connectTemporalClient, connectTemporalWorker, type TemporalClient } from '../infra/temporal/connection';
import { startTemporalDevServer } from '../infra/temporal/devServer';
import { readTools } from '../infra/tools';
import { FPS, FRAMES_PER_CHUNK } from '../workflows/generation';
import { Cleanup } from './bench/cleanup';
import { cpuDelta, cpuMeter, type CpuSample } from './bench/cpu';
import { pin, splitCores, type CoreSplit } from './bench/affinity';
import { startDirectRunner, type DirectRun, type DirectRunner } from './bench/direct';
import { startPlatformStack, type PlatformStack } from './harness/stack';
import { PREVIEW_POLL_MS, waitFirstPlayable } from './bench/preview';
import { fmt, renderTable } from './bench/table';
import { GPU_BUSY_BURST, judged, notMeasured, renderTargets, TARGET_GOALS, unjudged, type TargetRow } from './bench/targets';
import { writeResults } from './bench/results';

// The target of issue #4, reported as PASS/MISS rather than an exit code: a loaded machine should still give numbers.
const OVERHEAD_TARGET = 1.1;
const LATENCY_CELLS: readonly VideoSpec[] = [
  { seconds: 4, size: '256x256' },
  { seconds: 4, size: '720x1280' },
  { seconds: 12, size: '256x256' },
  { seconds: 12, size: '720x1280' },
];
const THROUGHPUT_VIDEO: VideoSpec = { seconds: 4, size: '256x256' };
/** Several bodies and collisions, a moving camera: the graphs do their full work per frame. No strobe: a flashing
 * video would be blocked by the output review, and a blocked video never completes. */
const PROMPT = 'four bouncy red and blue balls collide and bounce fast';
const SEED = 42;
const STYLE = 'cinematic';
const CAMERA = 'pan';
const POLL_MS = 50;
const VIDEO_DEADLINE_MS = 10 * 60 * 1000;

interface VideoSpec {
  seconds: number;
  size: string;
}

interface Args {
  runs: number;
  levels: number[];
  minVideos: number;
  levelSeconds: number;
  gpuConcurrency: number[] | undefined;
  latency: boolean;
  /** POST to first playable preview, lone 4 s 720x1280 videos. */
  preview: boolean;
  throughput: boolean;
  /** The GPU worker inside this process (as the API tests run it) instead of its own process (as deployed). */
  gpuInProcess: boolean;
  /**
   * One core stands in for the accelerator: the GPU worker process and the direct run get it to themselves (one
   * inference thread), the platform (this process, the Temporal server, PostgreSQL, ffmpeg) the other cores.
   */
  dedicatedCore: boolean;
}

const USAGE =
  'usage: bench-pipeline [--runs N] [--levels 1,5,20] [--min-videos N] [--level-seconds N] [--gpu-concurrency 1,2] [--skip-latency] [--skip-preview] [--skip-throughput] [--gpu-in-process | --dedicated-core]';

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    runs: 3,
    levels: [1, 5, 20],
    minVideos: 6,
    levelSeconds: 45,
    gpuConcurrency: undefined,
    latency: true,
    preview: true,
    throughput: true,
    gpuInProcess: false,
    dedicatedCore: false,
  };
  const positive = (flag: string, raw: string): number => {
    if (!/^[1-9][0-9]*$/.test(raw)) throw new UsageError(`${flag} needs a positive integer, got ${JSON.stringify(raw)}; ${USAGE}`);
    return Number(raw);
  };
  const list = (flag: string, raw: string): number[] => raw.split(',').map((v) => positive(flag, v.trim()));
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    if (flag === '--skip-latency') args.latency = false;
    else if (flag === '--skip-preview') args.preview = false;
    else if (flag === '--skip-throughput') args.throughput = false;
    else if (flag === '--gpu-in-process') args.gpuInProcess = true;
    else if (flag === '--dedicated-core') args.dedicatedCore = true;
    else {
      const raw = inline ?? argv[++i] ?? '';
      if (flag === '--runs') args.runs = positive(flag, raw);
      else if (flag === '--levels') args.levels = list(flag, raw);
      else if (flag === '--min-videos') args.minVideos = positive(flag, raw);
      else if (flag === '--level-seconds') args.levelSeconds = positive(flag, raw);
      else if (flag === '--gpu-concurrency') args.gpuConcurrency = list(flag, raw);
      else throw new UsageError(`unknown argument ${JSON.stringify(argv[i - (inline === undefined ? 1 : 0)])}; ${USAGE}`);
    }
  }
  if (args.gpuInProcess && args.dedicatedCore) throw new UsageError(`--gpu-in-process and --dedicated-core exclude each other; ${USAGE}`);
  return args;
}

// ---------------------------------------------------------------------------------------------------------------
// Numbers

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const label = (v: VideoSpec) => `${v.seconds} s ${v.size}`;
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

// ---------------------------------------------------------------------------------------------------------------
// A video through the platform, as a client sees it: POST over HTTP, then completion by polling.

interface Client {
  url: string;
  apiKey: string;
}

interface Submitted {
  id: string;
  /** Date.now() just before the POST was sent; events' commit times are on the same (this machine's) clock. */
  postAt: number;
  answeredAt: number;
}

async function submit(client: Client, spec: VideoSpec): Promise<Submitted> {
  const postAt = Date.now();
  const res = await fetch(`${client.url}/v1/videos`, {
    method: 'POST',
    headers: { authorization: `Bearer ${client.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: PROMPT, seconds: spec.seconds, size: spec.size, style: STYLE, camera: CAMERA, seed: SEED }),
  });
  if (!res.ok) throw new Error(`POST /v1/videos answered ${res.status}: ${await res.text()}`);
  const video = (await res.json()) as { id: string };
  return { id: video.id, postAt, answeredAt: Date.now() };
}

interface VideoStatus {
  id: string;
  status: string;
  error: { code: string; message: string } | null;
}

function finished(video: VideoStatus): 'completed' | 'not yet' {
  if (video.status === 'completed') return 'completed';
  if (video.status === 'failed' || video.status === 'cancelled') throw new Error(`video ${video.id} ${video.status}: ${JSON.stringify(video.error)}`);
  return 'not yet';
}

/** GET /v1/videos/:id every POLL_MS until it says completed; returns when the client saw it. */
async function waitCompleted(client: Client, id: string): Promise<number> {
  const deadline = Date.now() + VIDEO_DEADLINE_MS;
  for (;;) {
    const res = await fetch(`${client.url}/v1/videos/${id}`, { headers: { authorization: `Bearer ${client.apiKey}` } });
    if (!res.ok) throw new Error(`GET /v1/videos/${id} answered ${res.status}: ${await res.text()}`);
    if (finished((await res.json()) as VideoStatus) === 'completed') return Date.now();
    if (Date.now() > deadline) throw new Error(`video ${id} did not complete within ${VIDEO_DEADLINE_MS / 1000} s`);
    await sleep(POLL_MS);
  }
}

/**
 * Completion for many videos of one user: one GET /v1/videos (the list) every POLL_MS answers for all of them, so
 * twenty clients polling do not take from the two cores the renders need the CPU that four hundred GETs a second would.
 */
class ListPoller {
  private readonly waiting = new Map<string, { resolve: (at: number) => void; reject: (err: Error) => void; deadline: number }>();
  private loop: Promise<void> | undefined;

  constructor(private readonly client: Client) {}

  waitCompleted(id: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, deadline: Date.now() + VIDEO_DEADLINE_MS });
      this.loop ??= this.run().finally(() => (this.loop = undefined));
    });
  }

  private async run(): Promise<void> {
    while (this.waiting.size > 0) {
      try {
        const res = await fetch(`${this.client.url}/v1/videos?limit=100&order=desc`, { headers: { authorization: `Bearer ${this.client.apiKey}` } });
        if (!res.ok) throw new Error(`GET /v1/videos answered ${res.status}: ${await res.text()}`);
        const page = (await res.json()) as { data: VideoStatus[] };
        const seenAt = Date.now();
        for (const video of page.data) {
          const waiter = this.waiting.get(video.id);
          if (!waiter) continue;
          try {
            if (finished(video) === 'completed') {
              this.waiting.delete(video.id);
              waiter.resolve(seenAt);
            }
          } catch (err) {
            this.waiting.delete(video.id);
            waiter.reject(err as Error);
          }
        }
        for (const [id, waiter] of this.waiting) {
          if (seenAt > waiter.deadline) {
            this.waiting.delete(id);
            waiter.reject(new Error(`video ${id} did not complete within ${VIDEO_DEADLINE_MS / 1000} s`));
          }
        }
      } catch (err) {
        for (const [id, waiter] of this.waiting) {
          this.waiting.delete(id);
          waiter.reject(err as Error);
        }
      }
      await sleep(POLL_MS);
    }
  }
}

/** Commit times of the stages, from the video's stream (RecordedEvent.created is the row's clock_timestamp()). */
interface StageTimes {
  requested: number;
  planned: number;
  firstVideoChunk: number;
  lastAudioChunk: number;
  muxed: number;
  outputModerated: number;
  completed: number;
}

async function stageTimes(stack: PlatformStack, id: string): Promise<StageTimes> {
  const events = await stack.eventStore.readStream(`video-${id}`);
  const at = (type: string, pick: 'first' | 'last' = 'first'): number => {
    const times = events.filter((e: RecordedEvent) => e.type === type).map((e) => e.created.getTime());
    if (times.length === 0) throw new Error(`video ${id} has no ${type} event (it has ${events.map((e) => e.type).join(', ')})`);
    return pick === 'first' ? Math.min(...times) : Math.max(...times);
  };
  return {
    requested: at('VideoRequested'),
    planned: at('ChunksPlanned'),
    firstVideoChunk: at('VideoChunkRendered'),
    lastAudioChunk: at('AudioChunkRendered', 'last'),
    muxed: at('Muxed'),
    outputModerated: at('OutputModerated'),
    completed: at('VideoCompleted'),
  };
}

const STAGES = ['request', 'moderation', 'rendering', 'mux', 'review', 'completion', 'projection'] as const;
type Stage = (typeof STAGES)[number];

interface PipelineRun {
  id: string;
  e2eMs: number;
  postAnswerMs: number;
  firstChunkMs: number;
  /** Consecutive, so they add up to e2eMs. */
  stagesMs: Record<Stage, number>;
  workflow?: WorkflowProfile;
  /** CPU seconds each component used while this video ran alone (latency runs only). */
  cpu?: CpuSample;
  /** The GPU worker's seconds inside inference (renders, audio, safety scoring) while it ran (latency runs only). */
  inferenceS?: number;
}

function pipelineRun(sub: Submitted, seenAt: number, t: StageTimes): PipelineRun {
  return {
    id: sub.id,
    e2eMs: seenAt - sub.postAt,
    postAnswerMs: sub.answeredAt - sub.postAt,
    firstChunkMs: t.firstVideoChunk - sub.postAt,
    stagesMs: {
      request: t.requested - sub.postAt,
      moderation: t.planned - t.requested,
      rendering: t.lastAudioChunk - t.planned,
      mux: t.muxed - t.lastAudioChunk,
      review: t.outputModerated - t.muxed,
      completion: t.completed - t.outputModerated,
      projection: seenAt - t.completed,
    },
  };
}

async function runThroughStack(stack: PlatformStack, client: Client, spec: VideoSpec): Promise<PipelineRun> {
  const sub = await submit(client, spec);
  const seenAt = await waitCompleted(client, sub.id);
  return pipelineRun(sub, seenAt, await stageTimes(stack, sub.id));
}

// ---------------------------------------------------------------------------------------------------------------
// Inside the generation workflow, from its Temporal history: how long its workflow tasks, its event appends, its GPU
// activities (waiting in the task queue, then running) and its moderation children took. Sums per video.

type History = Awaited<ReturnType<ReturnType<TemporalClient['client']['workflow']['getHandle']>['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

interface WorkflowProfile {
  workflowTasks: { count: number; ms: number };
  /** By activity type: attempts completed, time from scheduled to started (queue) and from started to completed. */
  activities: Record<string, { count: number; queueMs: number; runMs: number }>;
  children: { count: number; ms: number };
}

function msOf(ts: HistoryEvent['eventTime']): number {
  const seconds = ts?.seconds as { toNumber(): number } | number | string | null | undefined;
  const s = typeof seconds === 'object' && seconds !== null ? seconds.toNumber() : Number(seconds ?? 0);
  return s * 1000 + (ts?.nanos ?? 0) / 1e6;
}

async function workflowProfile(temporal: TemporalClient, workflowId: string): Promise<WorkflowProfile> {
  const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const byId = new Map(events.map((e) => [String(e.eventId), e]));
  const timeOf = (id: unknown) => msOf(byId.get(String(id))?.eventTime);
  const profile: WorkflowProfile = { workflowTasks: { count: 0, ms: 0 }, activities: {}, children: { count: 0, ms: 0 } };
  for (const e of events) {
    const at = msOf(e.eventTime);
    if (e.workflowTaskCompletedEventAttributes) {
      profile.workflowTasks.count++;
      profile.workflowTasks.ms += at - timeOf(e.workflowTaskCompletedEventAttributes.scheduledEventId);
    } else if (e.activityTaskCompletedEventAttributes) {
      const { scheduledEventId, startedEventId } = e.activityTaskCompletedEventAttributes;
      const name = byId.get(String(scheduledEventId))?.activityTaskScheduledEventAttributes?.activityType?.name ?? 'unknown';
      const entry = (profile.activities[name] ??= { count: 0, queueMs: 0, runMs: 0 });
      entry.count++;
      entry.queueMs += timeOf(startedEventId) - timeOf(scheduledEventId);
      entry.runMs += at - timeOf(startedEventId);
    } else if (e.childWorkflowExecutionCompletedEventAttributes) {
      profile.children.count++;
      profile.children.ms += at - timeOf(e.childWorkflowExecutionCompletedEventAttributes.initiatedEventId);
    }
  }
  return profile;
}

/**
 * When the video's activities on the GPU task queue ran: the first one's start (its scene description, just before its
 * first chunk) to the last one's end (its last chunk's safety scoring). Every inference call the GPU worker counts for
 * the video falls inside, so a burst's window holds all of its inference time. Undefined when none ran.
 */
async function gpuWindow(temporal: TemporalClient, workflowId: string, gpuTaskQueue: string): Promise<{ startMs: number; endMs: number } | undefined> {
  const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const byId = new Map(events.map((e) => [String(e.eventId), e]));
  const onGpu = (scheduledEventId: unknown) => byId.get(String(scheduledEventId))?.activityTaskScheduledEventAttributes?.taskQueue?.name === gpuTaskQueue;
  let window: { startMs: number; endMs: number } | undefined;
  for (const e of events) {
    // An attempt that failed or timed out ran on the device too.
    const closed = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
    if (!closed || !onGpu(closed.scheduledEventId)) continue;
    const startMs = msOf(byId.get(String(closed.startedEventId))?.eventTime);
    const endMs = msOf(e.eventTime);
    window = window ? { startMs: Math.min(window.startMs, startMs), endMs: Math.max(window.endMs, endMs) } : { startMs, endMs };
  }
  return window;
}

const GPU_ACTIVITIES = ['describeVideoScene', 'renderVideoChunk', 'renderAudioChunk', 'renderChunk'];
const PROFILE_FIELDS = ['workflowTasks', 'workflowTaskMs', 'appends', 'appendMs', 'gpuActivities', 'gpuQueueMs', 'gpuRunMs', 'muxRunMs', 'childrenMs'] as const;
type ProfileSummary = Record<(typeof PROFILE_FIELDS)[number], number>;

function summarize(p: WorkflowProfile): ProfileSummary {
  const a = (name: string) => p.activities[name] ?? { count: 0, queueMs: 0, runMs: 0 };
  const gpu = GPU_ACTIVITIES.map(a);
  return {
    workflowTasks: p.workflowTasks.count,
    workflowTaskMs: p.workflowTasks.ms,
    appends: a('appendEvents').count,
    appendMs: a('appendEvents').queueMs + a('appendEvents').runMs,
    gpuActivities: gpu.reduce((n, x) => n + x.count, 0),
    gpuQueueMs: gpu.reduce((n, x) => n + x.queueMs, 0),
    gpuRunMs: gpu.reduce((n, x) => n + x.runMs, 0),
    muxRunMs: a('muxVideo').runMs,
    childrenMs: p.children.ms,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The direct baseline runs in a process of its own (scripts/bench/direct.ts), pinned to the device core with
// --dedicated-core: the same engine settings as the GPU worker process.

function directRun(runner: DirectRunner, video: VideoSpec): Promise<DirectRun> {
  return runner.run({ ...video, prompt: PROMPT, seed: SEED, style: STYLE, camera: CAMERA, fps: FPS, framesPerChunk: FRAMES_PER_CHUNK });
}

// ---------------------------------------------------------------------------------------------------------------
// Latency and overhead

interface LatencyCell {
  video: VideoSpec;
  pipeline: PipelineRun[];
  direct: DirectRun[];
  e2eMedianMs: number;
  directMedianMs: number;
  ratio: number;
  pass: boolean;
  stagesMedianMs: Record<Stage, number>;
  /** The generation workflow's own history, medians over the runs. */
  workflowMedian: ProfileSummary;
  /** CPU seconds per video by component, medians; `direct` is the direct runner's process (and its ffmpeg runs). */
  /** `inference`: the GPU worker's seconds inside inference, part of `self` (on a fleet, the accelerator's). */
  cpuMedianS: CpuSample & { direct: number; inference: number };
  directMedian: { renderMs: number; muxMs: number; sceneMs: number; reviewComputeMs: number };
}

async function runLatency(
  stack: PlatformStack,
  client: Client,
  temporal: TemporalClient,
  direct: DirectRunner,
  cpu: () => CpuSample,
  runs: number,
): Promise<LatencyCell[]> {
  const measured = async (video: VideoSpec): Promise<PipelineRun> => {
    const inferenceBefore = await stack.gpuInferenceSeconds();
    const before = cpu();
    const sub = await submit(client, video);
    const seenAt = await waitCompleted(client, sub.id);
    const used = cpuDelta(before, cpu());
    const inferenceS = (await stack.gpuInferenceSeconds()) - inferenceBefore;
    const run = pipelineRun(sub, seenAt, await stageTimes(stack, sub.id));
    return { ...run, cpu: used, inferenceS, workflow: await workflowProfile(temporal, `video-${sub.id}`) };
  };
  // Unmeasured, as the stack's warm-up video was (main).
  await directRun(direct, LATENCY_CELLS[0]!);
  const cells: LatencyCell[] = [];
  for (const video of LATENCY_CELLS) {
    const pipeline: PipelineRun[] = [];
    const directRuns: DirectRun[] = [];
    // Pipeline and direct alternate, so both see the same machine conditions.
    for (const r of range(runs)) {
      log(`latency: ${label(video)}, run ${r + 1}/${runs}: through the platform`);
      pipeline.push(await measured(video));
      log(`latency: ${label(video)}, run ${r + 1}/${runs}: direct`);
      directRuns.push(await directRun(direct, video));
    }
    const e2eMedianMs = median(pipeline.map((p) => p.e2eMs));
    const directMedianMs = median(directRuns.map((d) => d.totalMs));
    const ratio = e2eMedianMs / directMedianMs;
    cells.push({
      video,
      pipeline,
      direct: directRuns,
      e2eMedianMs,
      directMedianMs,
      ratio,
      pass: ratio <= OVERHEAD_TARGET,
      stagesMedianMs: Object.fromEntries(STAGES.map((s) => [s, median(pipeline.map((p) => p.stagesMs[s]))])) as Record<Stage, number>,
      cpuMedianS: {
        self: median(pipeline.map((p) => p.cpu!.self)),
        temporal: median(pipeline.map((p) => p.cpu!.temporal)),
        postgres: median(pipeline.map((p) => p.cpu!.postgres)),
        direct: median(directRuns.map((d) => d.cpuS)),
        inference: median(pipeline.map((p) => p.inferenceS ?? NaN)),
      },
      workflowMedian: Object.fromEntries(PROFILE_FIELDS.map((f) => [f, median(pipeline.map((p) => summarize(p.workflow!)[f]))])) as ProfileSummary,
      directMedian: {
        renderMs: median(directRuns.map((d) => d.renderMs)),
        muxMs: median(directRuns.map((d) => d.muxMs)),
        sceneMs: median(directRuns.map((d) => d.sceneMs)),
        reviewComputeMs: median(directRuns.map((d) => d.reviewComputeMs)),
      },
    });
  }
  return cells;
}

// ---------------------------------------------------------------------------------------------------------------
// Preview: POST to first playable preview for lone videos (scripts/bench/preview.ts polls and fetches).

const PREVIEW_VIDEO: VideoSpec = { seconds: 4, size: '720x1280' };

interface PreviewResult {
  video: VideoSpec;
  /** 'no endpoint': the API has no preview route; 'failed': a run went wrong (`error`), the runs before it are kept. */
  outcome: 'measured' | 'no endpoint' | 'failed';
  error?: string;
  runs: { id: string; listedMs: number; playableMs: number; playlistUrl: string; mapUrl: string; segmentUrl: string }[];
  listedMedianMs: number;
  playableMedianMs: number;
}

/**
 * `runs` lone videos, each POSTed only once the one before completed. A missing endpoint or a failed run ends the
 * phase with what it has rather than the bench: the preview route is younger than the rest, and the numbers measured
 * before it (the latency cells) must not be lost to it.
 */
async function runPreview(client: Client, runs: number): Promise<PreviewResult> {
  const measured: PreviewResult['runs'] = [];
  const result = (outcome: PreviewResult['outcome'], error?: string): PreviewResult => ({
    video: PREVIEW_VIDEO,
    outcome,
    ...(error !== undefined ? { error } : {}),
    runs: measured,
    listedMedianMs: median(measured.map((m) => m.listedMs)),
    playableMedianMs: median(measured.map((m) => m.playableMs)),
  });
  try {
    for (const r of range(runs)) {
      log(`preview: ${label(PREVIEW_VIDEO)}, run ${r + 1}/${runs}: POST to first playable preview`);
      const sub = await submit(client, PREVIEW_VIDEO);
      const first = await waitFirstPlayable(client, sub.id, sub.postAt);
      if (first.kind === 'no endpoint') {
        // Its video renders on; the stack's stop terminates it.
        log('preview: GET /v1/videos/{id}/preview.m3u8 is not a route of this API (404 route_not_found): not measured');
        return result('no endpoint');
      }
      const { listedMs, playableMs, playlistUrl, mapUrl, segmentUrl } = first;
      measured.push({ id: sub.id, listedMs, playableMs, playlistUrl, mapUrl, segmentUrl });
      await waitCompleted(client, sub.id);
    }
    return result('measured');
  } catch (err) {
    log(`preview: failed: ${(err as Error).message}`);
    return result('failed', (err as Error).message);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Throughput: closed-loop submitters (each POSTs, waits for completion, POSTs again) of one user per level.

interface ThroughputLevel {
  gpuConcurrency: number;
  submitters: number;
  videos: number;
  failed: number;
  failures: string[];
  wallS: number;
  videosPerMinute: number;
  e2eMs: { p50: number; p99: number };
  firstChunkMs: { p50: number; p99: number };
  /** CPU seconds by component over the level, and the cores they kept busy on average (all of them / wall). */
  cpuS: CpuSample;
  busyCores: number;
  /** Share of the level this process's main thread was busy: the API, the activities and the projector share it. */
  eventLoopBusy: number;
  gpuBusy: GpuBusy;
  runs: PipelineRun[];
}

/**
 * How busy the GPU worker's slots were over a level: its inference seconds (its own counter, read before and after)
 * over the window from the first GPU activity's start to the last one's end, times GPU_CONCURRENCY. NaN when the
 * window is unknown (no video completed).
 */
interface GpuBusy {
  inferenceS: number;
  windowS: number;
  fraction: number;
}

async function runLevel(
  stack: PlatformStack,
  temporal: TemporalClient,
  gpuConcurrency: number,
  submitters: number,
  args: Args,
  cpu: () => CpuSample,
): Promise<ThroughputLevel> {
  const { apiKey } = await stack.user(`bench-gpu${gpuConcurrency}-x${submitters}`);
  const client = { url: stack.url, apiKey };
  const poller = new ListPoller(client);
  const target = Math.ceil(args.minVideos / submitters) * submitters;
  const inferenceBefore = await stack.gpuInferenceSeconds();
  const cpuBefore = cpu();
  const eluBefore = performance.eventLoopUtilization();
  const started = Date.now();
  const stopSubmittingAt = started + args.levelSeconds * 1000;
  let submitted = 0;
  let lastSeen = started;
  const done: { sub: Submitted; seenAt: number }[] = [];
  const failures: string[] = [];
  await Promise.all(
    range(submitters).map(async () => {
      while (submitted < target && Date.now() < stopSubmittingAt) {
        submitted++;
        try {
          const sub = await submit(client, THROUGHPUT_VIDEO);
          const seenAt = await poller.waitCompleted(sub.id);
          lastSeen = Math.max(lastSeen, seenAt);
          done.push({ sub, seenAt });
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    }),
  );
  const cpuS = cpuDelta(cpuBefore, cpu());
  const eventLoopBusy = performance.eventLoopUtilization(eluBefore).utilization;
  const inferenceS = (await stack.gpuInferenceSeconds()) - inferenceBefore;
  const runs = await Promise.all(done.map(async ({ sub, seenAt }) => pipelineRun(sub, seenAt, await stageTimes(stack, sub.id))));
  const windows = (await Promise.all(done.map(({ sub }) => gpuWindow(temporal, `video-${sub.id}`, stack.gpuTaskQueue)))).filter((w) => w !== undefined);
  const windowS = windows.length > 0 ? (Math.max(...windows.map((w) => w.endMs)) - Math.min(...windows.map((w) => w.startMs))) / 1000 : NaN;
  const wallS = (lastSeen - started) / 1000;
  return {
    gpuConcurrency,
    submitters,
    videos: runs.length,
    failed: failures.length,
    failures,
    wallS,
    videosPerMinute: runs.length > 0 ? (runs.length / wallS) * 60 : 0,
    e2eMs: {
      p50: percentile(
        runs.map((r) => r.e2eMs),
        50,
      ),
      p99: percentile(
        runs.map((r) => r.e2eMs),
        99,
      ),
    },
    firstChunkMs: {
      p50: percentile(
        runs.map((r) => r.firstChunkMs),
        50,
      ),
      p99: percentile(
        runs.map((r) => r.firstChunkMs),
        99,
      ),
    },
    cpuS,
    busyCores: [cpuS.self, cpuS.temporal, cpuS.postgres].filter(Number.isFinite).reduce((a, b) => a + b, 0) / wallS,
    eventLoopBusy,
    gpuBusy: { inferenceS, windowS, fraction: inferenceS / (windowS * gpuConcurrency) },
    runs,
  };
}

// ---------------------------------------------------------------------------------------------------------------

interface Servers {
  /** pid: only for a server this run started, whose CPU it then measures. */
  temporal: { address: string; label: string; pid?: number };
  postgres: { url: string; label: string; pid?: number };
}

async function startServers(config: Config, tmp: string, cleanup: Cleanup, logger: pino.Logger): Promise<Servers> {
  const temporal = (async () => {
    if (config.temporalAddress) return { address: config.temporalAddress, label: `TEMPORAL_ADDRESS ${config.temporalAddress}` };
    log('starting a Temporal dev server (set TEMPORAL_ADDRESS to use another server)');
    const cli = readTools().temporalCli;
    const server = await startTemporalDevServer({ cli, dataDir: tmp, port: 0, uiPort: 0, namespace: config.temporalNamespace, logger });
    cleanup.push('stop Temporal dev server', () => server.stop());
    return {
      address: server.address,
      pid: server.pid,
      label: `dev server ${server.address} (${path.basename(path.dirname(path.dirname(cli.path!)))}, SQLite in a temp folder)`,
    };
  })();
  const postgres = (async () => {
    if (config.databaseUrl) return { url: config.databaseUrl, label: `DATABASE_URL ${redact(config.databaseUrl)}` };
    log('starting embedded PostgreSQL (set DATABASE_URL to use another server)');
    const server = await startEmbeddedPostgres({ dataDir: path.join(tmp, 'data'), port: 0, logger });
    cleanup.push('stop embedded PostgreSQL', () => server.stop());
    return { url: server.connectionString, pid: server.pid, label: `embedded, port ${server.port}` };
  })();
  // Both are awaited before either failure is thrown, so the one that did start is registered for cleanup.
  const [t, p] = await Promise.allSettled([temporal, postgres]);
  if (t.status === 'rejected') throw t.reason;
  if (p.status === 'rejected') throw p.reason;
  return { temporal: t.value, postgres: p.value };
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const loaded = loadConfig();
  // The device core's one thread for both the GPU worker and the direct run; servers of our own, pinned with us.
  const cores = args.dedicatedCore ? splitCores() : undefined;
  const config: Config = cores ? { ...loaded, inferenceThreads: cores.deviceCores, temporalAddress: undefined, databaseUrl: undefined } : loaded;
  if (cores) pin(process.pid, cores.platform);
  const startedAt = new Date();
  const loadAverageAtStart = os.loadavg();
  // Logs go to stderr at warn: stdout is the report.
  const logger = pino({ name: 'bench-pipeline', level: 'warn' }, pino.destination(2));
  const cleanup = new Cleanup();
  const { tmp, stopListening } = cleanup.begin(log, 'reelforge-bench-pipeline-');

  try {
    const [servers, bundle, direct, inProcessEngine] = await Promise.all([
      startServers(config, tmp, cleanup, logger),
      bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quietBundleLogger }),
      // The direct runs' own process, with the GPU worker's engine settings (and core).
      startDirectRunner({
        blobsDir: path.join(tmp, 'direct-blobs'),
        ...(cores ? { cpus: cores.device, env: { INFERENCE_THREADS: String(cores.deviceCores) } } : {}),
      }).then((runner) => {
        cleanup.push('stop direct runner', () => runner.stop());
        return runner;
      }),
      args.gpuInProcess
        ? createEngine({ config, logger }).then((e) => {
            cleanup.push('close engine', () => e.close());
            return e;
          })
        : undefined,
    ]);
    const connection = await connectTemporalWorker({ ...config, temporalAddress: servers.temporal.address }, logger);
    cleanup.push('close Temporal worker connection', () => connection.close());
    const stackOptions = (name: string, gpuConcurrency: number) => {
      const dataDir = fs.mkdtempSync(path.join(tmp, `${name}-`));
      return {
        temporalAddress: servers.temporal.address,
        temporalNamespace: config.temporalNamespace,
        connection,
        databaseUrl: servers.postgres.url,
        workflowBundle: { code: bundle.code },
        engine: inProcessEngine ?? ('process' as const),
        dataDir,
        name,
        gpuConcurrency,
        gpuLookaheadChunks: config.gpuLookaheadChunks,
        watermark: config.watermark,
        ffmpegPath: config.ffmpegPath,
        logger,
        ...(cores ? { gpuCores: { cpus: cores.device, count: cores.deviceCores } } : {}),
      };
    };

    const cpu = cpuMeter({ temporal: servers.temporal.pid, postgres: servers.postgres.pid });

    const temporal = connectTemporalClient({ ...config, temporalAddress: servers.temporal.address });
    cleanup.push('close Temporal client', () => temporal.close());

    // Lone videos, one at a time, on one stack: the latency cells, then the preview runs.
    let latency: LatencyCell[] = [];
    let preview: PreviewResult | undefined;
    if (args.latency || args.preview) {
      const stack = await startPlatformStack(stackOptions('bench', config.gpuConcurrency));
      cleanup.push('stop stack', () => stack.stop());
      const { apiKey } = await stack.user('bench-latency');
      const client = { url: stack.url, apiKey };
      // Unmeasured: the first workflow loads the bundle into the worker's isolate, the first queries plan their SQL.
      log('lone videos: warm-up video (not counted)');
      await runThroughStack(stack, client, LATENCY_CELLS[0]!);
      if (args.latency) latency = await runLatency(stack, client, temporal, direct, cpu, args.runs);
      if (args.preview) preview = await runPreview(client, args.runs);
      await cleanup.runOne('stop stack');
    }

    const throughput: ThroughputLevel[] = [];
    const concurrencies = args.gpuConcurrency ?? [...new Set([config.gpuConcurrency, 2])];
    if (args.throughput) {
      for (const gpuConcurrency of concurrencies) {
        const stack = await startPlatformStack(stackOptions(`bench_gpu${gpuConcurrency}`, gpuConcurrency));
        cleanup.push('stop stack', () => stack.stop());
        log(`throughput, GPU concurrency ${gpuConcurrency}: warm-up video (not counted)`);
        const { apiKey } = await stack.user('bench-warm-up');
        await runThroughStack(stack, { url: stack.url, apiKey }, THROUGHPUT_VIDEO);
        for (const submitters of args.levels) {
          log(`throughput, GPU concurrency ${gpuConcurrency}: ${submitters} concurrent submitter(s)`);
          throughput.push(await runLevel(stack, temporal, gpuConcurrency, submitters, args, cpu));
        }
        await cleanup.runOne('stop stack');
      }
    }

    const machine = machineInfo(loadAverageAtStart);
    const firstChunkAll = (c: number) => throughput.filter((t) => t.gpuConcurrency === c).flatMap((t) => t.runs.map((r) => r.firstChunkMs));
    const results = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      args,
      machine,
      servers: { temporal: servers.temporal.label, postgres: servers.postgres.label },
      engine: { provider: direct.info.provider, threads: direct.info.threads, pack: direct.info.pack },
      gpuConcurrencyConfigured: config.gpuConcurrency,
      gpuLookaheadChunks: config.gpuLookaheadChunks,
      ...(cores ? { cores } : {}),
      video: { prompt: PROMPT, seed: SEED, style: STYLE, camera: CAMERA, fps: FPS, framesPerChunk: FRAMES_PER_CHUNK },
      target: { overheadRatioMax: OVERHEAD_TARGET },
      latency,
      preview,
      throughput,
      firstChunk: concurrencies.map((c) => ({
        gpuConcurrency: c,
        count: firstChunkAll(c).length,
        p50Ms: percentile(firstChunkAll(c), 50),
        p99Ms: percentile(firstChunkAll(c), 99),
      })),
    };
    const targets = issueTargets({ args, concurrencies, latency, preview, throughput });

    process.stdout.write(`${report({ ...results, targets })}\n`);
    process.stdout.write(`
JSON: ${writeResults('pipeline', startedAt, { ...results, targets })}
`);
  } finally {
    await cleanup.run();
    stopListening();
  }
}

/**
 * Issue #20's targets from what this run measured, a row per target and cell; a phase the flags skipped, or a number
 * this run could not read, is n/a with the reason. The definitions are those of the tables above: CPU is the CPU table's
 * "extra CPU-s" (every process of the platform, the servers included, less the direct run's) per second of video, but
 * n/a rather than a partial sum when a server is not the bench's own; platform-added latency is each run's end-to-end
 * less the direct run beside it (render and mux), the median of the runs.
 */
function issueTargets(r: {
  args: Args;
  concurrencies: number[];
  latency: LatencyCell[];
  preview: PreviewResult | undefined;
  throughput: ThroughputLevel[];
}): TargetRow[] {
  const goals = TARGET_GOALS;
  const rows: TargetRow[] = [];
  // The issue measures these two with the device core to the GPU worker alone; a run without it is not the same test.
  const onDedicatedCore = (row: TargetRow): TargetRow => (r.args.dedicatedCore || row.verdict === 'n/a' ? row : { ...row, note: 'without --dedicated-core' });
  const cellOf = (seconds: number, size: string) => r.latency.find((c) => c.video.seconds === seconds && c.video.size === size);

  for (const video of LATENCY_CELLS) {
    const name = `platform CPU per second of video, ${label(video)}`;
    const cell = cellOf(video.seconds, video.size);
    if (!cell) {
      rows.push(notMeasured(name, goals.cpuPerVideoSecond, 'not run (--skip-latency)'));
      continue;
    }
    const u = cell.cpuMedianS;
    const unread = !Number.isFinite(u.self)
      ? 'no CPU times here (/proc is Linux only)'
      : 'Temporal or PostgreSQL not started by the bench (TEMPORAL_ADDRESS, DATABASE_URL): their CPU is not read';
    rows.push(judged(name, (u.self + u.temporal + u.postgres - u.direct) / video.seconds, goals.cpuPerVideoSecond, unread));
  }
  // Not the issue's measure, shown beside it: what a fleet's CPUs would spend per second of video, encoding and muxing
  // included, with only the accelerator's work (the GPU worker's inference) taken out.
  for (const video of LATENCY_CELLS) {
    const cell = cellOf(video.seconds, video.size);
    if (!cell) continue;
    const u = cell.cpuMedianS;
    rows.push(
      unjudged(
        `CPU per second of video on a fleet's CPUs (all but the GPU worker's inference), ${label(video)}`,
        (u.self + u.temporal + u.postgres - u.inference) / video.seconds,
        goals.cpuPerVideoSecond,
        "not the target's measure (that subtracts the direct run): shown for sizing",
      ),
    );
  }

  for (const c of r.concurrencies) {
    const name = `GPU busy fraction, ${label(THROUGHPUT_VIDEO)} burst, GPU concurrency ${c}`;
    const levels = r.throughput.filter((t) => t.gpuConcurrency === c).sort((a, b) => b.submitters - a.submitters);
    const burst = levels.find((t) => t.submitters === GPU_BUSY_BURST);
    if (!r.args.throughput) rows.push(notMeasured(name, goals.gpuBusy, 'not run (--skip-throughput)'));
    else if (burst) rows.push(onDedicatedCore(judged(`${name}, ${burst.videos} videos`, burst.gpuBusy.fraction, goals.gpuBusy, 'no video completed')));
    else if (levels[0])
      rows.push(
        unjudged(
          `${name}, ${levels[0].submitters} submitters`,
          levels[0].gpuBusy.fraction,
          goals.gpuBusy,
          `the target is for ${GPU_BUSY_BURST} submitters (--levels ...,${GPU_BUSY_BURST})`,
        ),
      );
    else rows.push(notMeasured(name, goals.gpuBusy, 'no throughput level ran'));
  }

  const addedMs = (cell: LatencyCell) => cell.pipeline.map((p, i) => p.e2eMs - cell.direct[i]!.totalMs);
  const small = cellOf(4, '256x256');
  const smallName = 'platform-added latency p50, 4 s 256x256';
  rows.push(
    small
      ? onDedicatedCore(judged(smallName, median(addedMs(small)), goals.addedLatencySmall))
      : notMeasured(smallName, goals.addedLatencySmall, 'not run (--skip-latency)'),
  );
  const large = cellOf(12, '720x1280');
  const largeName = 'platform-added latency p50, 12 s 720x1280, share of the direct render';
  rows.push(
    large
      ? onDedicatedCore(judged(largeName, median(addedMs(large).map((ms, i) => (ms / large.direct[i]!.renderMs) * 100)), goals.addedLatencyLarge))
      : notMeasured(largeName, goals.addedLatencyLarge, 'not run (--skip-latency)'),
  );

  const previewName = `POST to first playable preview p50, ${label(PREVIEW_VIDEO)}`;
  const p = r.preview;
  if (!p) rows.push(notMeasured(previewName, goals.firstPlayable, 'not run (--skip-preview)'));
  else if (p.outcome === 'no endpoint') rows.push(notMeasured(previewName, goals.firstPlayable, 'no preview endpoint'));
  else if (p.outcome === 'failed')
    rows.push(unjudged(previewName, p.playableMedianMs, goals.firstPlayable, `failed after ${p.runs.length} of ${r.args.runs} runs: ${p.error}`));
  else rows.push(judged(previewName, p.playableMedianMs, goals.firstPlayable));
  return rows;
}

const quietBundleLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => log(`bundle: ${message}`),
  error: (message: string) => log(`bundle: ${message}`),
};

function report(r: {
  startedAt: string;
  args: Args;
  machine: MachineInfo;
  servers: { temporal: string; postgres: string };
  engine: { provider: string; threads: number; pack: string };
  gpuConcurrencyConfigured: number;
  gpuLookaheadChunks: number;
  cores?: CoreSplit;
  latency: LatencyCell[];
  preview: PreviewResult | undefined;
  throughput: ThroughputLevel[];
  firstChunk: { gpuConcurrency: number; count: number; p50Ms: number; p99Ms: number }[];
  targets: TargetRow[];
}): string {
  const { machine } = r;
  const s = (ms: number) => fmt(ms / 1000, 2);
  const ms = (v: number) => fmt(v);
  const cpuS = (v: number) => fmt(v, 2);
  const out: string[] = [];
  out.push(`reelforge pipeline benchmark, ${r.startedAt}`);
  out.push(`machine:  ${describeMachine(machine)}`);
  out.push(`servers:  Temporal ${r.servers.temporal}; PostgreSQL ${r.servers.postgres}`);
  out.push(
    `engine:   ${r.engine.pack} on ${r.engine.provider}, ${r.engine.threads || 'default'} intra-op threads; GPU worker concurrency ${r.gpuConcurrencyConfigured} (GPU_CONCURRENCY) for latency, rendering up to ${r.gpuLookaheadChunks} chunks ahead (GPU_LOOKAHEAD_CHUNKS); the GPU worker ${r.args.gpuInProcess ? 'inside the bench process (--gpu-in-process)' : 'in its own process (gpu-workers/worker.ts), as deployed'}`,
  );
  if (r.args.dedicatedCore)
    out.push(
      `cores:    --dedicated-core: core ${r.cores?.device} stands in for the accelerator (the GPU worker process and the direct runs, one inference thread); the platform and its servers on ${r.cores?.platform}`,
    );
  out.push(
    `video:    "${PROMPT}", seed ${SEED}, ${STYLE}, camera ${CAMERA}, ${FPS} fps, chunks of ${FRAMES_PER_CHUNK} frames; completion seen by polling GET every ${POLL_MS} ms`,
  );

  if (r.latency.length > 0) {
    out.push('');
    out.push(`End-to-end latency by stage (median of ${r.args.runs} runs; stages from the events' commit times, ms; they add up to end-to-end)`);
    out.push(
      renderTable(
        ['video', 'end-to-end s', 'request', 'moderation', 'rendering', 'mux', 'output review', 'completion', 'projection lag'],
        r.latency.map((c) => [label(c.video), s(c.e2eMedianMs), ...STAGES.map((st) => ms(c.stagesMedianMs[st]))]),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
    );
    out.push('request: POST sent -> VideoRequested; moderation: -> ChunksPlanned; rendering: -> last AudioChunkRendered; mux: -> Muxed;');
    out.push('output review: -> OutputModerated; completion: -> VideoCompleted; projection lag: -> the client sees `completed`.');
    out.push('');
    out.push(`Orchestration overhead: end-to-end / the same render and mux run directly in one process (target <= ${OVERHEAD_TARGET.toFixed(2)})`);
    out.push(
      renderTable(
        ['video', 'end-to-end s', 'direct s', 'direct render s', 'direct mux s', 'ratio', 'target'],
        r.latency.map((c) => [
          label(c.video),
          s(c.e2eMedianMs),
          s(c.directMedianMs),
          s(c.directMedian.renderMs),
          s(c.directMedian.muxMs),
          fmt(c.ratio, 2),
          c.pass ? 'PASS' : 'MISS',
        ]),
        ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
      ),
    );
    out.push('');
    out.push('Where the extra time goes (ms, medians): stages with no direct counterpart, and the rendering and mux stages less their direct time');
    out.push(
      renderTable(
        ['video', 'extra', 'request', 'moderation', 'rendering +', 'mux +', 'output review', 'of it flash check', 'completion', 'projection lag'],
        r.latency.map((c) => {
          const st = c.stagesMedianMs;
          return [
            label(c.video),
            ms(c.e2eMedianMs - c.directMedianMs),
            ms(st.request),
            ms(st.moderation),
            ms(st.rendering - c.directMedian.renderMs),
            ms(st.mux - c.directMedian.muxMs),
            ms(st.review),
            ms(c.directMedian.reviewComputeMs),
            ms(st.completion),
            ms(st.projection),
          ];
        }),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
    );
    out.push(
      "extra = end-to-end - direct, the sum of the columns after it. of it flash check: the output review's own decode and flash analysis, run directly.",
    );
    out.push('');
    out.push('Inside the generation workflow, from its Temporal history (per video, medians; ms are sums over the calls)');
    out.push(
      renderTable(
        [
          'video',
          'workflow tasks',
          'their ms',
          'appends',
          'their ms',
          'GPU activities',
          'queued ms',
          'running ms',
          'running - direct render',
          'mux running ms',
          'moderation children ms',
        ],
        r.latency.map((c) => {
          const w = c.workflowMedian;
          return [
            label(c.video),
            w.workflowTasks,
            ms(w.workflowTaskMs),
            w.appends,
            ms(w.appendMs),
            w.gpuActivities,
            ms(w.gpuQueueMs),
            ms(w.gpuRunMs),
            ms(w.gpuRunMs - c.directMedian.renderMs),
            ms(w.muxRunMs),
            ms(w.childrenMs),
          ];
        }),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
    );
    out.push('workflow tasks: scheduled -> completed; appends: appendEvents activities, scheduled -> completed; GPU activities: video and audio');
    out.push('chunks, queued = scheduled -> started, running = started -> completed; moderation children: prompt and output cases, start -> result.');
    out.push('');
    out.push(`CPU seconds per video by process (medians; ${r.machine.cores} cores give ${r.machine.cores} CPU-s per second of wall time)`);
    out.push(
      renderTable(
        [
          'video',
          'end-to-end s',
          'bench process',
          'Temporal server',
          'PostgreSQL',
          'total',
          'direct run',
          'extra CPU-s',
          'GPU inference s',
          'total - inference',
        ],
        r.latency.map((c) => {
          const u = c.cpuMedianS;
          const total = [u.self, u.temporal, u.postgres].filter(Number.isFinite).reduce((a, b) => a + b, 0);
          return [
            label(c.video),
            s(c.e2eMedianMs),
            cpuS(u.self),
            cpuS(u.temporal),
            cpuS(u.postgres),
            cpuS(total),
            cpuS(u.direct),
            cpuS(total - u.direct),
            cpuS(u.inference),
            cpuS(total - u.inference),
          ];
        }),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
    );
    out.push(
      'bench process: this process (the API, the orchestration worker, the projector, the polling client) and its children (the GPU worker process, the idle direct runner), with the ffmpeg runs they waited for.',
    );
    out.push(
      "GPU inference s: the GPU worker's seconds inside inference meanwhile (its counter: scene, video and audio chunks, safety scoring), part of the bench process; total - inference: the CPU a fleet's CPUs would spend (encoding and muxing included), the accelerator's share taken out.",
    );
  }

  if (r.throughput.length > 0) {
    out.push('');
    out.push(`Throughput, ${label(THROUGHPUT_VIDEO)} videos, closed-loop submitters (completion seen by one GET /v1/videos list every ${POLL_MS} ms)`);
    out.push(
      renderTable(
        [
          'GPU concurrency',
          'submitters',
          'videos',
          'failed',
          'wall s',
          'videos/min',
          'e2e p50 s',
          'e2e p99 s',
          'first chunk p50 ms',
          'first chunk p99 ms',
          'busy cores',
          'event loop busy',
          'GPU busy',
        ],
        r.throughput.map((t) => [
          t.gpuConcurrency,
          t.submitters,
          t.videos,
          t.failed,
          fmt(t.wallS, 1),
          fmt(t.videosPerMinute, 1),
          s(t.e2eMs.p50),
          s(t.e2eMs.p99),
          ms(t.firstChunkMs.p50),
          ms(t.firstChunkMs.p99),
          fmt(t.busyCores, 2),
          `${fmt(t.eventLoopBusy * 100)}%`,
          fmt(t.gpuBusy.fraction, 3),
        ]),
        ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
    );
    out.push('');
    out.push('POST-to-first-chunk latency (POST sent -> first VideoChunkRendered committed), over all throughput runs');
    out.push(
      renderTable(
        ['GPU concurrency', 'videos', 'p50 ms', 'p99 ms'],
        r.firstChunk.map((f) => [f.gpuConcurrency, f.count, ms(f.p50Ms), ms(f.p99Ms)]),
        ['r', 'r', 'r', 'r'],
      ),
    );
    out.push('wall: first POST to last completion seen. busy cores: CPU seconds of the bench process, the Temporal server and PostgreSQL');
    out.push("per second of wall time. event loop busy: the bench process's main thread (API, activities, projector, client), not the workflow threads.");
    out.push("GPU busy: the GPU worker's seconds inside inference (its reelforge_gpu_inference_seconds_total: scene, video and audio chunks, safety");
    out.push("scoring) / (first GPU activity's start -> last one's end, from the videos' Temporal histories, x GPU concurrency).");
    for (const t of r.throughput.filter((x) => x.failures.length > 0))
      out.push(`failures at GPU concurrency ${t.gpuConcurrency}, ${t.submitters} submitters: ${t.failures.slice(0, 3).join(' | ')}`);
  }
  if (r.preview && r.preview.runs.length > 0) {
    const p = r.preview;
    out.push('');
    out.push(`POST to first playable preview, ${label(p.video)} lone videos (${p.runs.length} runs; playlist polled every ${PREVIEW_POLL_MS} ms; medians, ms)`);
    out.push(
      renderTable(
        ['video', 'runs', 'first segment listed', 'first playable'],
        [[label(p.video), p.runs.length, ms(p.listedMedianMs), ms(p.playableMedianMs)]],
        ['l', 'r', 'r', 'r'],
      ),
    );
    out.push('first segment listed: POST sent -> the playlist lists a media segment; first playable: -> its init section (#EXT-X-MAP) and that');
    out.push('segment both answered 200.');
  }

  out.push('');
  out.push(`Targets (issue #20)${r.args.dedicatedCore ? '' : '; the GPU busy fraction and the platform-added latency are defined with --dedicated-core'}`);
  out.push(renderTargets(r.targets));
  out.push("CPU: the CPU table's extra CPU-s / the video's seconds. GPU busy: the throughput level of 20 submitters. Platform-added latency: each");
  out.push("run's end-to-end less the direct run beside it (render and mux), the median; 12 s 720x1280 as a share of that direct run's render.");
  return out.join('\n');
}

// No process.exit on success: everything is closed by then, and a handle left open should show up as a hang here.
main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

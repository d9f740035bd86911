// generationWorkflow: a prompt becomes a video. Request recorded; prompt moderated (child workflow); cameo uses
// reserved and chunks planned; the scene described (from the prompt; a remix's parent's changed by it; an extension's
// source's) and recorded; video chunk i on the `gpu` queue, then audio chunk i beside video chunk i+1; mux beside the
// output's moderation (child); consent checked again; completed as a private draft, then recorded on a remix's parent
// and published when asked. Each phase is a function below, in that order (`generate` runs them). Every step is a
// command to the video decider whose events are appended through an activity, with the stream's expected revision.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  executeChild,
  isCancellation,
  ParentClosePolicy,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  startChild,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { contentKeys, inputReferenceKey } from '../domain/video/content';
import {
  decide,
  evolve,
  foldVideo,
  initialVideoState,
  isContentExpired,
  isFinished,
  type SceneDescribedData,
  type SceneSource,
  type VideoCommand,
  type VideoEvent,
  type VideoRequestedData,
  type VideoState,
} from '../domain/video';
import type { MuxResult } from '../activities/mux';
import type { ChunkJob, GpuActivities, SegmentSafetyResult } from '../gpu-workers/activities';
import type { Scene } from '../gpu-workers/engine/engine';
import type { AutomatedVerdict } from '../activities/moderation';
import { caseReviewWorkflow } from './caseReview';
import { consentRevokedSignal, GPU_TASK_QUEUE } from './definitions';
import { caseOpenedEvent, caseVerdictEvents, moderationWorkflow, type ModerationResult } from './moderation';
import { publishWorkflow } from './publish';
import { recordRemixWorkflow } from './recordRemix';
import { retentionWorkflow } from './retention';
import { streamWriter, type StreamWriter } from './streamWriter';

const { reserveCameoUse, checkCameoUse, readVideoStream } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '10 seconds', maximumAttempts: 10 },
});
const { muxVideo, measureSegmentFlashes } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});
// The live preview's check of one segment (a few small measurements read and judged) and the prompt policy (a pure
// function of the prompt and the policy file): local activities, no task queue round trip.
const {
  checkPreviewSegment,
  moderatePrompt: judgePrompt,
  judgeOutput,
} = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '5 seconds', maximumAttempts: 5 },
});
// A GPU worker that dies mid-chunk stops heartbeating; Temporal then gives the chunk to another worker, which starts
// it again from the previous chunk's recorded state. At most that chunk is lost.
const gpuActivities = (taskQueue: string) =>
  proxyActivities<GpuActivities>({
    taskQueue,
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '20 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
  });

export const FPS = 24;
export const FRAMES_PER_CHUNK = 24;

export interface GenerationInput {
  request: VideoRequestedData;
  actor: string;
  /** The inference task queue; `gpu` unless a deployment (or a test) runs its GPU workers elsewhere. */
  gpuTaskQueue?: string;
  /**
   * VIDEO_RETENTION_SECONDS as the API had it: the completed video's `expires_at` is its completion plus this, and a
   * retentionWorkflow deletes its content then unless it is published; 0 or absent: kept.
   */
  retentionSeconds?: number;
  /**
   * Cancel-After or the `deadline` field, as the API had them: the unix second at which the job, if it has not ended, is cancelled (`cancelled`,
   * error `deadline_exceeded`); a job still waiting then never reaches a GPU, one rendering stops its chunks.
   */
  deadlineAt?: number;
  /**
   * A run started again after an appeal overturned the block of the video's prompt (caseReviewWorkflow starts it, as
   * `video-<id>` once more): it reads the video's stream and goes on from there, to rendering.
   */
  resume?: boolean;
}

/** The patch that added deadlines (a timer that cancels the work at `deadlineAt`). */
export const DEADLINE_PATCH = 'video-deadline';

/** The patch that added retention (an expiry in VideoCompleted, then the child retentionWorkflow). */
export const RETENTION_PATCH = 'video-retention';

/**
 * The patch that added the safety classifier to the output review: each rendered chunk's sampled frames scored on the
 * GPU queue (scoreSegmentSafety, a new activity command), the scores given to the output's moderation case.
 */
export const OUTPUT_SAFETY_PATCH = 'output-safety';

/**
 * The patch that added the live preview: each chunk rendered whole by one GPU activity (renderChunk, a new command,
 * in place of the four per chunk), its segment checked on its own (checkPreviewSegment, a local activity) and
 * recorded with its video and audio in one append, `PreviewSegmentPassed` among them when it passed.
 */
export const LIVE_PREVIEW_PATCH = 'live-preview';

/**
 * The patch that judges the prompt and the output in the generation workflow itself (the policy and the output's
 * classifiers as local activities, each case's events appended to its stream from here) instead of in child
 * moderationWorkflows: two child workflows fewer per video, the same case streams. Asked where each is judged.
 */
export const MODERATION_INLINE_PATCH = 'moderation-inline';

/**
 * Event ids derive from the workflow id and its writer's sequence number: the case streams written from this workflow
 * beside the video's take their numbers from here on (the prompt's, then the output's a million on), far above any
 * video stream's.
 */
const CASE_STREAM_FIRST_SEQ = { prompt: 1 << 30, output: (1 << 30) + 1_000_000 };

/**
 * A resumed run (after an appeal) shares the first run's workflow id: its writes to the video's stream number from here,
 * and its output case's from CASE_STREAM_FIRST_SEQ.output plus this, so no event id of the first run comes again.
 */
const RESUMED_FIRST_SEQ = 1 << 29;

export interface Progress {
  status: VideoState['status'];
  stage: VideoState['stage'];
  progress: number;
  chunks: { total: number; video_done: number; audio_done: number };
}

export const progressQuery = defineQuery<Progress>('progress');

const now = () => Math.floor(Date.now() / 1000);

/** The recorded scene as the engine takes it. */
export function sceneOf(recorded: SceneDescribedData): Scene {
  return {
    pack: recorded.pack,
    seed: recorded.seed,
    width: recorded.width,
    height: recorded.height,
    bodies: recorded.bodies,
    initialState: recorded.initial_state,
    world: recorded.world,
    ambient: recorded.ambient,
  };
}

async function readVideo(videoId: string): Promise<VideoState> {
  return foldVideo((await readVideoStream({ stream: `video-${videoId}` })).events as VideoEvent[]);
}

/** The chunk keys of a video in order, its extended sources' first: what its content is made of. */
async function contentChunks(video: VideoState): Promise<{ videoKeys: string[]; audioKeys: string[] }> {
  const videoKeys: string[] = [];
  const audioKeys: string[] = [];
  for (let current: VideoState | undefined = video; current; ) {
    // Its chunks went with its content: there is nothing left to continue from.
    if (isContentExpired(current, now())) {
      throw ApplicationFailure.nonRetryable(`the content of video ${current.request?.video_id} expired at ${current.expiresAt}`, 'invalid_request');
    }
    videoKeys.unshift(...current.chunks.plan.map((c) => current!.videoChunkKeys[c.index]!));
    audioKeys.unshift(...current.chunks.plan.map((c) => current!.audioChunkKeys[c.index]!));
    const source: string | null | undefined = current.request?.extended_from_video_id;
    current = source ? await readVideo(source) : undefined;
  }
  return { videoKeys, audioKeys };
}

/** What a video builds on: nothing (a prompt), a remix's parent, or an extension's source and where it stopped. */
interface Origin {
  parent?: { id: string; request: VideoRequestedData; scene: SceneDescribedData | null };
  fromFrame: number;
  /** An extension: its source's last chunk (carry and event track) and the source's content, which comes first. */
  continues?: { videoId: string; index: number; videoKeys: string[]; audioKeys: string[] };
}

/** What a video renders: its scene and where it came from. */
interface ScenePlan {
  scene: Scene;
  source: SceneSource;
  /** The prompt the scene was made from: the video's own, or (an extension) its source's scene's. */
  promptUsed: string;
}

/**
 * One run of the workflow: its request, the video as decided so far, and how commands reach the video's stream.
 * Commands are decided in the order they are given, each against the state the ones before it leave (the stream
 * writer computes a request only after every earlier one), and given together they are decided in turn and appended
 * as one batch; once one of them ends the video, the rest are not decided. `state` moves on when a command is decided;
 * a failed append fails the workflow.
 */
class VideoRun {
  readonly request: VideoRequestedData;
  readonly actor: string;
  readonly gpu: ReturnType<typeof gpuActivities>;
  readonly retentionSeconds: number;
  /** Its VideoRequested is recorded: from then on the job may be stopped by a decision (a cancel, a deadline). */
  requestRecorded = false;
  state: VideoState = initialVideoState;
  /** A run resumed after an appeal (GenerationInput.resume): its request and verdict are on the stream already. */
  readonly resumed: boolean;
  private writer: StreamWriter;
  // Appends still in flight that the work went on without (see `decideNow`); all are awaited before the mux, and
  // before the workflow ends.
  private readonly recording: Promise<unknown>[] = [];

  constructor(input: GenerationInput) {
    this.request = input.request;
    this.actor = input.actor;
    this.gpu = gpuActivities(input.gpuTaskQueue ?? GPU_TASK_QUEUE);
    this.retentionSeconds = input.retentionSeconds ?? 0;
    this.resumed = input.resume === true;
    this.writer = streamWriter(workflowInfo().workflowId, { actor: input.actor, correlationId: input.request.video_id });
  }

  /** A resumed run: the video as its stream has it, and the writer at its revision. */
  async load(): Promise<void> {
    const { events, revision } = await readVideoStream({ stream: `video-${this.request.video_id}` });
    this.state = foldVideo(events as VideoEvent[]);
    this.writer = streamWriter(workflowInfo().workflowId, { actor: this.actor, correlationId: this.request.video_id }, { revision, seq: RESUMED_FIRST_SEQ });
    this.requestRecorded = true;
  }

  /** Decides the commands and resolves once their events are recorded. */
  async apply(...commands: VideoCommand[]): Promise<void> {
    await this.writer.append(() => this.decideAll(commands), commands[0]!.type);
  }

  /**
   * Decides `commands` and resolves as soon as they are decided (`state` includes them), while their append goes on:
   * what follows (the next GPU activity) is scheduled beside it instead of after it. The stream still gets them
   * before anything decided later; a failed append fails the workflow where `recorded()` is awaited.
   */
  async decideNow(...commands: VideoCommand[]): Promise<void> {
    let decided!: () => void;
    const isDecided = new Promise<void>((resolve) => (decided = resolve));
    const append = this.writer.append(() => {
      const batch = this.decideAll(commands);
      decided();
      return batch;
    }, commands[0]!.type);
    append.catch(() => undefined); // surfaces where `recorded()` is awaited
    this.recording.push(append);
    await Promise.race([isDecided, append]);
  }

  /** Every append `decideNow` left in flight, recorded. */
  recorded(): Promise<unknown[]> {
    return Promise.all(this.recording);
  }

  /** The progress once every append in flight is recorded: how a video that ended early returns. */
  settled(): Promise<Progress> {
    return this.recorded().then(() => this.progress());
  }

  progress(): Progress {
    const { state } = this;
    return {
      status: state.status,
      stage: state.stage,
      progress: state.progress,
      chunks: { total: state.chunks.total, video_done: state.chunks.videoDone, audio_done: state.chunks.audioDone },
    };
  }

  /** Read through a method: `apply` replaces `state`, which the compiler's narrowing cannot see. */
  blocked(): boolean {
    return this.state.stage === 'blocked';
  }

  /** Stops the video for want of consent, unless it has already ended. */
  async stop(code: ConsentCode, message: string): Promise<void> {
    if (!isFinished(this.state))
      await CancellationScope.nonCancellable(() => this.apply({ type: 'StopVideo', data: { code, message: message.slice(0, 500), at: now() } }));
  }

  private decideAll(commands: VideoCommand[]): VideoEvent[] {
    const batch: VideoEvent[] = [];
    let next = this.state;
    for (const command of commands) {
      if (batch.length > 0 && isFinished(next)) break;
      const decided = decide(command, next);
      next = decided.reduce(evolve, next);
      batch.push(...decided);
    }
    this.state = next;
    return batch;
  }
}

type ConsentCode = 'consent_missing' | 'consent_revoked';

export async function generationWorkflow(input: GenerationInput): Promise<Progress> {
  const run = new VideoRun(input);
  setHandler(progressQuery, () => run.progress());

  // A cameo's owner revoking consent (or narrowing it, or deleting the cameo) stops the job wherever it is: the
  // work scope is cancelled (GPU chunks stop through their heartbeats) and the video ends blocked.
  let revoked: { cameo_id: string; code: ConsentCode; reason: string } | undefined;
  const work = new CancellationScope();
  setHandler(consentRevokedSignal, (signal) => {
    if (revoked || isFinished(run.state)) return;
    revoked = signal;
    work.cancel();
  });

  // Cancel-After: at the deadline the work is cancelled as a cancel would, once the request is on the stream (the
  // stream must exist to record the end); a job that ends first leaves the timer behind.
  let deadlineHit = false;
  if (input.deadlineAt !== undefined && patched(DEADLINE_PATCH)) {
    const deadlineMs = input.deadlineAt * 1000;
    void (async () => {
      await sleep(Math.max(1, deadlineMs - Date.now()));
      await condition(() => run.requestRecorded || isFinished(run.state));
      if (revoked || isFinished(run.state)) return;
      deadlineHit = true;
      work.cancel();
    })().catch(() => undefined); // a cancel of the whole workflow cancels the timer too: nothing to do then
  }

  try {
    return await work.run(() => generate(run));
  } catch (err) {
    if (revoked && isCancellation(err)) {
      await run.stop(revoked.code, `consent for cameo ${revoked.cameo_id} was withdrawn: ${revoked.reason}`);
      return run.progress();
    }
    if (deadlineHit && isCancellation(err)) {
      const at = new Date(input.deadlineAt! * 1000).toISOString();
      await CancellationScope.nonCancellable(() =>
        run.apply({
          type: 'CancelVideo',
          data: { by: input.actor, at: now(), code: 'deadline_exceeded', message: `the job was not done by its deadline (Cancel-After or deadline), ${at}` },
        }),
      );
      return run.progress();
    }
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => run.apply({ type: 'CancelVideo', data: { by: input.actor, at: now() } }));
      throw err;
    }
    return await fail(run, err);
  }
}

/**
 * The job, phase by phase. A phase after which the video may have ended (a blocked verdict, a consent refused) is
 * followed by the check that returns its progress there.
 */
async function generate(run: VideoRun): Promise<Progress> {
  const verdict = await judgeThePrompt(run);
  if (run.blocked()) return await run.settled();
  // An extension's plan continues its source's frames, so the source (a remix's parent too) is read first.
  const origin = await readOrigin(run.request);
  const cast = await reserveCameos(run, verdict, chunkPlan(origin));
  if (!cast) return run.progress();
  if (run.blocked()) return await run.settled();
  const scene = await describeScene(run, origin);
  if (run.blocked()) return await run.settled();
  const reviewed = await renderChunks(run, origin, scene, cast.likenessKey);
  const output = await muxAndReview(run, origin, reviewed);
  if (!(await consentHolds(run))) return run.progress();
  await complete(run, output);
  if (run.blocked()) return run.progress();
  await recordRemix(run);
  await publish(run);
  await scheduleRetention(run);
  return run.progress();
}

/**
 * The prompt's verdict to decide, or null when it is decided already: a prompt in the review band waits here, in stage
 * `in_review`, for a person (or the policy's default), and a resumed run's prompt was allowed on appeal.
 */
async function judgeThePrompt(run: VideoRun): Promise<VideoCommand | null> {
  if (run.resumed) {
    await run.load();
    return null;
  }
  const command = await moderatePrompt(run);
  if (command.type !== 'RecordPromptVerdict' || command.data.verdict !== 'review') return command;
  await run.apply(command);
  await awaitReview(run, command.data.case_id);
  return null;
}

/**
 * Waits for a person to decide the case the video is in review for (caseReviewWorkflow, its child, takes the
 * moderators' decisions and keeps the timers), then records the decision: allowed, the video goes on; blocked, it ends.
 */
async function awaitReview(run: VideoRun, caseId: string): Promise<void> {
  const outcome = await executeChild(caseReviewWorkflow, {
    workflowId: `moderation-${caseId}`,
    args: [{ caseId, mode: 'review', actor: run.actor, correlationId: run.request.video_id }],
  });
  await run.apply({
    type: 'RecordReviewDecision',
    data: { case_id: caseId, decision: outcome.verdict, by: outcome.moderator_id, reason: outcome.reason, at: now() },
  });
}

/**
 * Records the request while the prompt is judged (neither waits for the other); returns the verdict to decide. Since the
 * moderation-inline patch the policy runs here as a local activity and the case (opened, judged, closed) is appended to its
 * stream from here; before it, a child moderationWorkflow did both.
 */
async function moderatePrompt(run: VideoRun): Promise<VideoCommand> {
  const { request } = run;
  const requested = run.apply({ type: 'RequestVideo', data: request });
  requested.catch(() => undefined); // awaited below, after the verdict
  const promptCase = `case_${uuid4().replace(/-/g, '')}`;
  // Determinism: a local activity and an append where the child workflow was; histories from before replay the child.
  // - deprecatePatch(MODERATION_INLINE_PATCH) once no generationWorkflow from before it runs or must replay.
  if (patched(MODERATION_INLINE_PATCH)) {
    const automated = await judgePrompt({ prompt: request.prompt });
    const at = now();
    const writer = streamWriter(`moderation-${promptCase}`, { actor: run.actor, correlationId: request.video_id }, { seq: CASE_STREAM_FIRST_SEQ.prompt });
    await writer.append(
      () => [caseOpenedEvent(promptCase, request.video_id, 'prompt', at, request.owner_id), ...caseVerdictEvents(automated, at)],
      request.video_id,
    );
    await requested;
    run.requestRecorded = true;
    return {
      type: 'RecordPromptVerdict',
      data: { case_id: promptCase, verdict: automated.verdict, categories: automated.categories, reasons: automated.reasons, at: now() },
    };
  }
  const promptVerdict = await executeChild(moderationWorkflow, {
    workflowId: `moderation-${promptCase}`,
    args: [
      {
        caseId: promptCase,
        subjectId: request.video_id,
        subject: { stage: 'prompt', prompt: request.prompt },
        actor: run.actor,
        correlationId: request.video_id,
      },
    ],
  });
  await requested;
  run.requestRecorded = true;
  return {
    type: 'RecordPromptVerdict',
    data: { case_id: promptCase, verdict: promptVerdict.verdict, categories: promptVerdict.categories, reasons: promptVerdict.reasons, at: now() },
  };
}

/** The video this one builds on (a remix's parent, an extension's source), read from its stream; none for a prompt. */
async function readOrigin(request: VideoRequestedData): Promise<Origin> {
  const parentId = request.extended_from_video_id ?? request.remixed_from_video_id;
  if (!parentId) return { fromFrame: 0 };
  const parent = await readVideo(parentId);
  if (!parent.request || parent.status !== 'completed' || parent.deleted) {
    throw ApplicationFailure.nonRetryable(`source video ${parentId} is not a completed video`, 'invalid_request');
  }
  const parentOf = { id: parentId, request: parent.request, scene: parent.scene ?? null };
  if (!request.extended_from_video_id) return { parent: parentOf, fromFrame: 0 };
  const last = parent.chunks.plan[parent.chunks.plan.length - 1]!;
  return {
    parent: parentOf,
    fromFrame: last.start_frame + last.num_frames,
    continues: { videoId: parentId, index: last.index, ...(await contentChunks(parent)) },
  };
}

/** The chunks to render: 24 fps, chunks of 24 frames; an extension's start where its source's frames stopped. */
function chunkPlan(origin: Origin): VideoCommand {
  return {
    type: 'PlanChunks',
    data: { fps: FPS, frames_per_chunk: FRAMES_PER_CHUNK, ...(origin.fromFrame > 0 ? { from_frame: origin.fromFrame } : {}), at: now() },
  };
}

/**
 * Decides the prompt's verdict and the chunk plan, reserving a use of each cameo on its cameo's workflow in between,
 * before any GPU work. Returns the likeness to render, or undefined when a cameo's consent is refused (the video is
 * then stopped); a blocked prompt leaves the video blocked, which the caller checks.
 */
async function reserveCameos(run: VideoRun, verdict: VideoCommand | null, plan: VideoCommand): Promise<{ likenessKey: string | undefined } | undefined> {
  const { request } = run;
  const verdicts = verdict ? [verdict] : [];
  // The verdict and the scene are decided before the next GPU activity and appended beside it. No patch: the
  // commands are the same, only sent a workflow task earlier, and histories from before replay (a fixture shows it).
  if (request.cameo_ids.length === 0) {
    await run.decideNow(...verdicts, plan);
    return { likenessKey: undefined };
  }
  if (verdict) await run.apply(verdict);
  if (run.blocked()) return undefined;
  let likenessKey: string | undefined;
  const reservations: VideoCommand[] = [];
  for (const cameoId of request.cameo_ids) {
    const reserved = await reserveCameoUse({ cameoId, videoId: request.video_id, userId: request.owner_id });
    if (!reserved.ok) {
      await run.stop(reserved.code, `cameo ${cameoId}: ${reserved.reason}`);
      return undefined;
    }
    likenessKey ??= reserved.likeness_key ?? undefined;
    reservations.push({ type: 'ReserveCameo', data: { cameo_id: cameoId, basis: reserved.basis, grant_revision: reserved.grant_revision, at: now() } });
  }
  await run.decideNow(...reservations, plan);
  return { likenessKey };
}

/** Describes the scene on the GPU queue and decides it before any chunk: every chunk renders exactly it. */
async function describeScene(run: VideoRun, origin: Origin): Promise<Scene> {
  const planned = await planScene(run, origin);
  const { scene } = planned;
  await run.decideNow({
    type: 'RecordScene',
    data: {
      prompt_used: planned.promptUsed,
      seed: scene.seed,
      pack: scene.pack,
      width: scene.width,
      height: scene.height,
      bodies: scene.bodies,
      world: scene.world,
      ambient: scene.ambient,
      initial_state: scene.initialState,
      source: planned.source,
      at: now(),
    },
  });
  return scene;
}

/** The scene from the prompt, from a remix's parent's scene changed by the prompt, or an extension's source's as it is. */
async function planScene(run: VideoRun, origin: Origin): Promise<ScenePlan> {
  const { request, gpu } = run;
  const describe = (remixOf?: Scene) =>
    gpu.describeVideoScene({ videoId: request.video_id, prompt: request.prompt, seed: request.seed, size: request.size, ...(remixOf ? { remixOf } : {}) });
  const { parent } = origin;
  if (!parent) return { scene: await describe(), source: 'prompt', promptUsed: request.prompt };
  // A parent made before scenes were recorded rendered its prompt's scene: described again, the same numbers.
  const parentScene = parent.scene
    ? sceneOf(parent.scene)
    : await gpu.describeVideoScene({ videoId: parent.id, prompt: parent.request.prompt, seed: parent.request.seed, size: parent.request.size });
  if (!origin.continues) return { scene: await describe(parentScene), source: 'remix', promptUsed: request.prompt };
  return { scene: parentScene, source: 'extension', promptUsed: parent.scene?.prompt_used ?? parent.request.prompt };
}

/** What the output review judges, per chunk segment, as it is made while the chunks render (maybe still running). */
interface ReviewInputs {
  measurements: Promise<{ measurementKey: string }>[];
  /** The safety classifier's scores; undefined in a history from before the 'output-safety' patch. */
  safety: Promise<SegmentSafetyResult>[] | undefined;
}

/**
 * Renders every chunk and records it. Since the live preview, each chunk is one GPU activity (renderWholeChunks).
 * Before it: video chunk i+1 is scheduled as soon as chunk i returns (it starts from the state chunk i stored); what
 * follows from chunk i runs beside it: its event is recorded, its segment measured for the output review and its
 * sampled frames scored by the safety classifier (on the GPU queue), and its audio rendered (after audio chunk i-1,
 * whose tail it continues). Resolves once every chunk and every append is recorded, with the segments' flash
 * measurements and safety scores (maybe still running).
 */
async function renderChunks(run: VideoRun, origin: Origin, scene: Scene, likenessKey: string | undefined): Promise<ReviewInputs> {
  const { gpu } = run;
  const [width, height] = frameSize(run.request);
  const job = (index: number) => chunkJob(run, origin, scene, likenessKey, index);
  // Determinism: scoreSegmentSafety is a new command, so a history recorded before it (no marker here, before the
  // first chunk) replays without it. Asked once, before the first chunk is scheduled.
  // - deprecatePatch(OUTPUT_SAFETY_PATCH) once no generationWorkflow from before it runs or must replay.
  const safety: Promise<SegmentSafetyResult>[] | undefined = patched(OUTPUT_SAFETY_PATCH) ? [] : undefined;
  // The same for the live preview's commands (renderChunk, checkPreviewSegment); asked once, after the safety's.
  // - deprecatePatch(LIVE_PREVIEW_PATCH), and drop the loop below it, once no generationWorkflow from before it runs
  //   or must replay.
  if (safety && patched(LIVE_PREVIEW_PATCH)) return await renderWholeChunks(run, job);
  const background: Promise<unknown>[] = [handled(run.recorded())];
  const measurements: Promise<{ measurementKey: string }>[] = [];
  let audio: Promise<void> = Promise.resolve();
  for (let index = 0; index < run.state.chunks.plan.length; index++) {
    const video = await gpu.renderVideoChunk(job(index));
    background.push(handled(run.apply({ type: 'RecordVideoChunk', data: { index, ...video, at: now() } })));
    measurements.push(handled(measureSegmentFlashes({ segmentKey: video.blob_key, width, height })));
    safety?.push(handled(gpu.scoreSegmentSafety({ segmentKey: video.blob_key, numFrames: video.frames })));
    const previousAudio = audio;
    audio = handled(
      (async () => {
        await previousAudio;
        const rendered = await gpu.renderAudioChunk(job(index));
        await run.apply({ type: 'RecordAudioChunk', data: { index, ...rendered, at: now() } });
      })(),
    );
    background.push(audio);
  }
  await Promise.all(background);
  return { measurements, safety };
}

/**
 * Since the live preview: each chunk whole in one GPU activity (renderChunk: video, audio, flash measurement, safety
 * scores), then the preview's check of its segment (a local activity, answered within the same workflow task), then
 * one append of its video, its audio and, when it passed, PreviewSegmentPassed, beside the next chunk's activity. A
 * segment passes when the flash analysis over it and the segments before it and the safety verdict on its own frames
 * allow it, and every segment before it passed; the output review after the mux still judges the whole video.
 */
async function renderWholeChunks(run: VideoRun, job: (index: number) => ChunkJob): Promise<ReviewInputs> {
  const background: Promise<unknown>[] = [handled(run.recorded())];
  const measured: { measurementKey: string }[] = [];
  const scored: SegmentSafetyResult[] = [];
  let passing = true;
  for (let index = 0; index < run.state.chunks.plan.length; index++) {
    const chunk = await run.gpu.renderChunk(job(index));
    measured.push(chunk.measurement);
    scored.push(chunk.safety);
    if (passing) {
      const checked = await checkPreviewSegment({ measurementKeys: measured.map((m) => m.measurementKey), fps: FPS, frames: chunk.safety.frames });
      passing = checked.passed;
    }
    const at = now();
    background.push(
      handled(
        run.apply(
          { type: 'RecordVideoChunk', data: { index, ...chunk.video, at } },
          { type: 'RecordAudioChunk', data: { index, ...chunk.audio, at } },
          ...(passing ? [{ type: 'PassPreviewSegment' as const, data: { index, at } }] : []),
        ),
      ),
    );
  }
  await Promise.all(background);
  return { measurements: measured.map((m) => Promise.resolve(m)), safety: scored.map((s) => Promise.resolve(s)) };
}

/** What the GPU worker renders chunk `index` from, its video and its audio alike. */
function chunkJob(run: VideoRun, origin: Origin, scene: Scene, likenessKey: string | undefined, index: number): ChunkJob {
  const { request, state } = run;
  const chunk = state.chunks.plan[index]!;
  const upcoming = state.chunks.plan.slice(index + 1).map((c) => ({ startFrame: c.start_frame, numFrames: c.num_frames }));
  return {
    videoId: request.video_id,
    index,
    startFrame: chunk.start_frame,
    numFrames: chunk.num_frames,
    prompt: request.prompt,
    seed: request.seed,
    size: request.size,
    style: request.style,
    camera: request.camera,
    scene,
    ...(index === 0 && origin.continues ? { previous: { videoId: origin.continues.videoId, index: origin.continues.index } } : {}),
    // The reference pack renders one likeness: the first cameo's (every cameo named is reserved all the same).
    ...(likenessKey ? { cameo: { likenessKey } } : {}),
    // The input_reference image is the scene's backdrop. Activity input only: histories replay unchanged.
    ...(request.has_input_reference ? { backdrop: { key: inputReferenceKey(request.video_id) } } : {}),
    // The GPU worker renders the chunks after this one ahead, and their activities then find them done.
    ...(upcoming.length > 0 ? { upcoming } : {}),
  };
}

interface Output {
  muxed: MuxResult;
  caseId: string;
  /** `review` when judged here in the review band. */
  verdict: Omit<ModerationResult, 'verdict'> & { verdict: AutomatedVerdict['verdict'] };
}

/**
 * The mux and the output review, side by side: the review judges the segments the mux copies, on their flash
 * measurements and (since the 'output-safety' patch) their frames' safety scores; here since the 'moderation-inline'
 * patch (judgeOutputHere), before it in a child moderationWorkflow.
 */
async function muxAndReview(run: VideoRun, origin: Origin, inputs: ReviewInputs): Promise<Output> {
  const { request, state } = run;
  const [width, height] = frameSize(request);
  const caseId = `case_${uuid4().replace(/-/g, '')}`;
  const contentKey = contentKeys(request.video_id).content;
  // Determinism: the output's case judged here (a local activity and an append) where a child workflow judged it.
  const review = handled(
    inputs.safety && patched(MODERATION_INLINE_PATCH)
      ? judgeOutputHere(run, caseId, inputs.measurements, inputs.safety)
      : Promise.all([Promise.all(inputs.measurements), inputs.safety ? Promise.all(inputs.safety) : undefined]).then(([measured, scored]) =>
          executeChild(moderationWorkflow, {
            workflowId: `moderation-${caseId}`,
            args: [
              {
                caseId,
                subjectId: request.video_id,
                subject: {
                  stage: 'output',
                  contentKey,
                  measurementKeys: measured.map((m) => m.measurementKey),
                  fps: FPS,
                  ...(scored ? { safety: scored.flatMap((s) => s.frames) } : {}),
                },
                actor: run.actor,
                correlationId: request.video_id,
              },
            ],
          }),
        ),
  );
  // An extension's content is its source's, then its own chunks.
  const muxed = await muxVideo({
    videoId: request.video_id,
    videoKeys: [...(origin.continues?.videoKeys ?? []), ...state.chunks.plan.map((c) => state.videoChunkKeys[c.index]!)],
    audioKeys: [...(origin.continues?.audioKeys ?? []), ...state.chunks.plan.map((c) => state.audioChunkKeys[c.index]!)],
    fps: FPS,
    width,
    height,
    // Input only: the command is the same ScheduleActivityTask, so histories from before replay unchanged.
    provenance: {
      seed: request.seed,
      cameos: (state.cameoReservations ?? []).map((r) => ({ cameoId: r.cameo_id, grantRevision: r.grant_revision })),
      ...(origin.parent ? { parent: { videoId: origin.parent.id, contentKey: contentKeys(origin.parent.id).content } } : {}),
    },
  });
  return { muxed, caseId, verdict: await review };
}

/**
 * The output's case judged in this workflow: both classifiers in one local activity (judgeOutput), the case opened,
 * judged and closed in one append to `moderation-<case id>`, beside the mux.
 */
async function judgeOutputHere(
  run: VideoRun,
  caseId: string,
  measurements: Promise<{ measurementKey: string }>[],
  safety: Promise<SegmentSafetyResult>[],
): Promise<Output['verdict']> {
  const { request } = run;
  const [measured, scored] = await Promise.all([Promise.all(measurements), Promise.all(safety)]);
  const automated = await judgeOutput({ measurementKeys: measured.map((m) => m.measurementKey), fps: FPS, frames: scored.flatMap((s) => s.frames) });
  const at = now();
  const seq = CASE_STREAM_FIRST_SEQ.output + (run.resumed ? RESUMED_FIRST_SEQ : 0);
  const writer = streamWriter(`moderation-${caseId}`, { actor: run.actor, correlationId: request.video_id }, { seq });
  await writer.append(() => [caseOpenedEvent(caseId, request.video_id, 'output', at, request.owner_id), ...caseVerdictEvents(automated, at)], request.video_id);
  return { caseId, verdict: automated.verdict, categories: automated.categories, reasons: automated.reasons };
}

/** Consent again, just before completing: a use blocked meanwhile stops the video here (false). */
async function consentHolds(run: VideoRun): Promise<boolean> {
  const { request } = run;
  for (const cameoId of request.cameo_ids) {
    const still = await checkCameoUse({ cameoId, videoId: request.video_id, userId: request.owner_id });
    if (!still.ok) {
      await run.stop(still.code, `cameo ${cameoId}: ${still.reason}`);
      return false;
    }
  }
  return true;
}

/**
 * Whether this run keeps its content for a limited time: a retention is set and the run has the retention patch.
 * Determinism: the expiry in VideoCompleted and the child retentionWorkflow are new commands, so they are guarded by
 * patched(). A history recorded before (no marker where the completion is appended) replays down the old branch:
 * no expiry, no child. patched() is asked only when a retention is set, and asked again it answers the same.
 * - deprecatePatch(RETENTION_PATCH) in place of patched() once no generationWorkflow started by code without this patch
 *   is still running and no such history must replay (drop test/fixtures/histories' older generation fixtures then).
 */
function retains(run: VideoRun): boolean {
  return run.retentionSeconds > 0 && patched(RETENTION_PATCH);
}

/** One append records the mux, the output's verdict and the completion (or, for a blocked output, the block). */
async function complete(run: VideoRun, { muxed, caseId, verdict }: Output): Promise<void> {
  const at = now();
  const recorded: VideoCommand[] = [
    { type: 'RecordMux', data: { ...muxed, at } },
    { type: 'RecordOutputVerdict', data: { case_id: caseId, verdict: verdict.verdict, categories: verdict.categories, reasons: verdict.reasons, at } },
  ];
  const completion = (): VideoCommand => {
    const completedAt = now();
    return { type: 'CompleteVideo', data: { at: completedAt, ...(retains(run) ? { expires_at: completedAt + run.retentionSeconds } : {}) } };
  };
  if (verdict.verdict !== 'review') {
    await run.apply(...recorded, completion());
    return;
  }
  // In the review band: the output waits, muxed, in stage `in_review` for a person.
  await run.apply(...recorded);
  await awaitReview(run, caseId);
  if (!run.blocked()) await run.apply(completion());
}

/**
 * Starts the video's retentionWorkflow (`retention-<id>`): a timer until `expires_at`, then the content is deleted
 * unless the video is published by then. Abandoned: it outlives this workflow, which ends once it has started.
 */
async function scheduleRetention(run: VideoRun): Promise<void> {
  const expiresAt = run.state.expiresAt;
  if (!retains(run) || expiresAt === null || run.state.status !== 'completed') return;
  await startChild(retentionWorkflow, {
    workflowId: `retention-${run.request.video_id}`,
    args: [{ videoId: run.request.video_id, expiresAt, actor: 'retention' }],
    parentClosePolicy: ParentClosePolicy.ABANDON,
  });
}

/**
 * A remix is recorded on its parent's stream. The parent's own workflow has long finished: a small workflow appends
 * VideoRemixed at the revision it reads. A parent deleted meanwhile refuses it; the remix stands all the same.
 */
async function recordRemix(run: VideoRun): Promise<void> {
  const { request } = run;
  if (!request.remixed_from_video_id) return;
  await executeChild(recordRemixWorkflow, {
    workflowId: `remixed-${request.video_id}`,
    args: [{ parentVideoId: request.remixed_from_video_id, childVideoId: request.video_id, by: request.owner_id, actor: run.actor }],
  }).catch(() => undefined);
}

/** Publishes when asked. Publishing re-checks consent; a refusal leaves the video a private draft, not a failed job. */
async function publish(run: VideoRun): Promise<void> {
  const { request } = run;
  if (!request.publish) return;
  await executeChild(publishWorkflow, { workflowId: `publish-${request.video_id}`, args: [{ videoId: request.video_id, actor: run.actor }] }).catch(
    () => undefined,
  );
}

/** Records the failure, coded by the step that failed, and fails the workflow. */
async function fail(run: VideoRun, err: unknown): Promise<never> {
  const message = err instanceof ActivityFailure && err.cause ? err.cause.message : (err as Error).message;
  const code =
    err instanceof ApplicationFailure && err.type === 'invalid_request'
      ? 'invalid_request'
      : err instanceof ActivityFailure && (err.activityType?.startsWith('render') || err.activityType === 'describeVideoScene')
        ? 'render_failed'
        : err instanceof ActivityFailure && err.activityType === 'muxVideo'
          ? 'mux_failed'
          : 'internal_error';
  await CancellationScope.nonCancellable(() => run.apply({ type: 'FailVideo', data: { code, message: message.slice(0, 500), at: now() } }));
  throw ApplicationFailure.nonRetryable(`video ${run.request.video_id} failed: ${message}`, code);
}

/** The frame's width and height, from a size such as "512x512". */
function frameSize(request: VideoRequestedData): [number, number] {
  return request.size.split('x').map(Number) as [number, number];
}

/** Marks a promise's failure handled at once (it surfaces where the promise is awaited), so a cancellation or a failed chunk meanwhile is not also reported as an unhandled rejection. */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

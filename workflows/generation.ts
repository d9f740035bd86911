// generationWorkflow: a prompt becomes a video. Request recorded; prompt moderated (child workflow); chunks planned;
// video chunk i on the `gpu` queue, then audio chunk i beside video chunk i+1; mux; output moderated (child);
// completed as a private draft, and published when asked. Every step is a command to the video decider whose events
// are appended through an activity, with the stream's expected revision.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  executeChild,
  isCancellation,
  proxyActivities,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { decide, evolve, initialVideoState, type VideoCommand, type VideoRequestedData, type VideoState } from '../domain/video';
import type { GpuActivities } from '../gpu-workers/activities';
import { GPU_TASK_QUEUE } from '../infra/temporal/taskQueues';
import { moderationWorkflow } from './moderation';
import { publishWorkflow } from './publish';
import { streamWriter } from './streamWriter';

const { muxVideo } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
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
}

export interface Progress {
  status: VideoState['status'];
  stage: VideoState['stage'];
  progress: number;
  chunks: { total: number; video_done: number; audio_done: number };
}

export const progressQuery = defineQuery<Progress>('progress');

const now = () => Math.floor(Date.now() / 1000);

export async function generationWorkflow(input: GenerationInput): Promise<Progress> {
  const { request } = input;
  const gpu = gpuActivities(input.gpuTaskQueue ?? GPU_TASK_QUEUE);
  const stream = workflowInfo().workflowId;
  let state = initialVideoState;
  const writer = streamWriter(stream, { actor: input.actor, correlationId: request.video_id });
  // The decider sees the state as of the previous append, so a command is decided after the one before it lands.
  const apply = async (command: VideoCommand): Promise<void> => {
    const events = await writer.append(() => decide(command, state), command.type);
    state = events.reduce(evolve, state);
  };
  const progress = (): Progress => ({
    status: state.status,
    stage: state.stage,
    progress: state.progress,
    chunks: { total: state.chunks.total, video_done: state.chunks.videoDone, audio_done: state.chunks.audioDone },
  });
  setHandler(progressQuery, progress);
  // Read through a function: `apply` replaces `state`, which the compiler's narrowing cannot see.
  const blocked = () => state.stage === 'blocked';

  try {
    await apply({ type: 'RequestVideo', data: request });

    const promptCase = `case_${uuid4().replace(/-/g, '')}`;
    const promptVerdict = await executeChild(moderationWorkflow, {
      workflowId: `moderation-${promptCase}`,
      args: [{ caseId: promptCase, subjectId: request.video_id, subject: { stage: 'prompt', prompt: request.prompt }, actor: input.actor, correlationId: request.video_id }],
    });
    await apply({ type: 'RecordPromptVerdict', data: { case_id: promptCase, verdict: promptVerdict.verdict, categories: promptVerdict.categories, reasons: promptVerdict.reasons, at: now() } });
    if (blocked()) return progress();

    await apply({ type: 'PlanChunks', data: { fps: FPS, frames_per_chunk: FRAMES_PER_CHUNK, at: now() } });
    const job = (index: number) => {
      const chunk = state.chunks.plan[index]!;
      return { videoId: request.video_id, index, startFrame: chunk.start_frame, numFrames: chunk.num_frames, prompt: request.prompt, seed: request.seed, size: request.size, style: request.style, camera: request.camera };
    };
    let audio: Promise<void> = Promise.resolve();
    for (let index = 0; index < state.chunks.plan.length; index++) {
      const video = await gpu.renderVideoChunk(job(index));
      await apply({ type: 'RecordVideoChunk', data: { index, ...video, at: now() } });
      // Audio chunk i renders while video chunk i+1 does; it only needs chunk i's (and i-1's) event track.
      const previousAudio = audio;
      audio = (async () => {
        await previousAudio;
        const rendered = await gpu.renderAudioChunk(job(index));
        await apply({ type: 'RecordAudioChunk', data: { index, ...rendered, at: now() } });
      })();
      audio.catch(() => undefined);
    }
    await audio;

    const [width, height] = request.size.split('x').map(Number) as [number, number];
    const muxed = await muxVideo({
      videoId: request.video_id,
      videoKeys: state.chunks.plan.map((c) => state.videoChunkKeys[c.index]!),
      audioKeys: state.chunks.plan.map((c) => state.audioChunkKeys[c.index]!),
      fps: FPS,
      width,
      height,
    });
    await apply({ type: 'RecordMux', data: { ...muxed, at: now() } });

    const outputCase = `case_${uuid4().replace(/-/g, '')}`;
    const outputVerdict = await executeChild(moderationWorkflow, {
      workflowId: `moderation-${outputCase}`,
      args: [{ caseId: outputCase, subjectId: request.video_id, subject: { stage: 'output', contentKey: muxed.content_key, width, height, fps: FPS }, actor: input.actor, correlationId: request.video_id }],
    });
    await apply({ type: 'RecordOutputVerdict', data: { case_id: outputCase, verdict: outputVerdict.verdict, categories: outputVerdict.categories, reasons: outputVerdict.reasons, at: now() } });
    if (blocked()) return progress();

    await apply({ type: 'CompleteVideo', data: { at: now() } });
    if (request.publish) {
      await executeChild(publishWorkflow, { workflowId: `publish-${request.video_id}`, args: [{ videoId: request.video_id, actor: input.actor }] });
    }
    return progress();
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => apply({ type: 'CancelVideo', data: { by: input.actor, at: now() } }));
      throw err;
    }
    const message = err instanceof ActivityFailure && err.cause ? err.cause.message : (err as Error).message;
    const code = err instanceof ActivityFailure && err.activityType?.startsWith('render') ? 'render_failed' : err instanceof ActivityFailure && err.activityType === 'muxVideo' ? 'mux_failed' : 'internal_error';
    await CancellationScope.nonCancellable(() => apply({ type: 'FailVideo', data: { code, message: message.slice(0, 500), at: now() } }));
    throw ApplicationFailure.nonRetryable(`video ${request.video_id} failed: ${message}`, code);
  }
}

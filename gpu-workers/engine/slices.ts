// A whole chunk rendered a few frames per engine call: between slices the caller heartbeats and notices
// cancellation. The model carries state exactly, so slices render the same frames as one call would. Shared by the GPU
// worker's activities and bench:pipeline's direct run, so the two render alike.
import type { Engine, VideoChunk, VideoChunkRequest } from './engine';

/** Frames per engine call inside a chunk. */
export const FRAMES_PER_SLICE = 6;

/** `request` (its `state` the chunk's starting state) rendered slice by slice; `beat` runs after each slice. */
export async function renderInSlices(engine: Engine, request: VideoChunkRequest, beat: (framesDone: number) => void = () => undefined): Promise<VideoChunk> {
  let state: ArrayLike<number> = request.state;
  const frames: Uint8Array[] = [];
  const events: Float32Array[] = [];
  let width = 0;
  let height = 0;
  for (let done = 0; done < request.numFrames; ) {
    const n = Math.min(FRAMES_PER_SLICE, request.numFrames - done);
    const part = await engine.renderVideoChunk({ ...request, state, startFrame: request.startFrame + done, numFrames: n });
    frames.push(part.frames);
    events.push(part.events);
    state = part.state;
    width = part.width;
    height = part.height;
    done += n;
    beat(done);
  }
  const allEvents = new Float32Array(events.reduce((n, e) => n + e.length, 0));
  events.reduce((offset, e) => (allEvents.set(e, offset), offset + e.length), 0);
  return { frames: Buffer.concat(frames), events: allEvents, state: state as Float32Array, numFrames: request.numFrames, width, height };
}

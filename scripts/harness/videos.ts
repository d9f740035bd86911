// Video requests for tests and the fixture recorder: what the API records in VideoRequested, with small defaults. No heavy imports, so the
// domain and projection tests can use it as well as the workflow tests.
import { randomUUID } from 'node:crypto';
import type { VideoRequestedData } from '../../domain/video';

/** A generation request as the API records it: a fresh id, small defaults, and `overrides` on top. */
export function videoRequest(prompt: string, overrides: Partial<VideoRequestedData> = {}): VideoRequestedData {
  return {
    video_id: `video_${randomUUID().replace(/-/g, '')}`,
    owner_id: 'user_test',
    prompt,
    model: 'reference',
    seconds: 2,
    size: '256x256',
    style: 'cinematic',
    camera: 'static',
    seed: 7,
    cameo_ids: [],
    publish: false,
    remixed_from_video_id: null,
    extended_from_video_id: null,
    has_input_reference: false,
    at: 1_700_000_000,
    ...overrides,
  };
}

// Video requests for tests and the fixture recorder: what the API records in VideoRequested, with small defaults. No heavy imports, so the
// domain and projection tests can use it as well as the workflow tests.
import { randomUUID } from 'node:crypto';
import type { CameoRegisteredData } from '../../domain/cameo';
import { cameoTestPhrase } from './cameoClips';
import type { VideoRequestedData } from '../../domain/video';
import type { CameoWorkflowInput } from '../../workflows/cameo';

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

/** The first run of a cameo's workflow as the API starts it: a registration of `ownerId`'s recording at `recordingKey`. */
export function cameoRegistration(options: {
  cameoId: string;
  ownerId: string;
  recordingKey: string;
  taskQueue: string;
  displayName?: string;
  permission?: CameoRegisteredData['permission'];
  phrase?: string | null;
  at?: number;
}) {
  const { cameoId, ownerId } = options;
  const registration: CameoRegisteredData = {
    cameo_id: cameoId,
    owner_id: ownerId,
    display_name: options.displayName ?? 'Olive',
    permission: options.permission ?? 'approved',
    challenge_id: null,
    phrase: options.phrase === undefined ? cameoTestPhrase() : options.phrase,
    recording_key: options.recordingKey,
    at: options.at ?? 1_700_000_000,
  };
  return { taskQueue: options.taskQueue, workflowId: `cameo-${cameoId}`, args: [{ cameoId, actor: ownerId, registration }] as [CameoWorkflowInput] };
}

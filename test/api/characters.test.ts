// Characters must not be a back door to someone else's likeness (issue 23), through the official SDK's createCharacter
// on the real stack: a clip of the reference pack's bouncing balls (rendered here, downloaded) becomes a character; a
// clip of a human face (the public-domain photograph, animated) is refused with human_likeness_requires_cameo; and a
// character whose recording shows a face when it is verified again (its permission widened) has its in-flight uses
// blocked, with the check, the refusal and the blocks on its consent history.
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import OpenAI, { toFile } from 'openai';
import { cameoClip } from '../../scripts/harness/cameoClips';
import { reserveUseUpdate } from '../../workflows/definitions';
import { connectTemporalClient, type TemporalClient } from '../../infra/temporal/connection';
import { executeUpdateOrRefusal } from '../../infra/temporal/updates';
import { startApiStack } from '../support/apiStack';
import { eventually, testEnv } from '../support/env';
import { seedVideo } from '../support/seedVideo';

interface ConsentEvent {
  revision: number;
  type: string;
  data: Record<string, unknown>;
}

describe('characters are non-human', () => {
  let stack: Awaited<ReturnType<typeof startApiStack>>;
  let client: OpenAI;
  let apiKey: string;
  let userId: string;
  let temporal: TemporalClient;
  let balls: Buffer;

  beforeAll(async () => {
    stack = await startApiStack();
    const created = await stack.user('character-maker');
    apiKey = created.apiKey;
    userId = created.user.id;
    client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey, maxRetries: 0 });
    temporal = connectTemporalClient({ temporalAddress: testEnv.temporalAddress, temporalDevPort: 0, temporalNamespace: 'default' });
    // A reference render: bodies bouncing, with their sounds, 4 s.
    const video = await client.videos.create({ prompt: 'three red balls bouncing on a wooden floor', seconds: '4', size: '256x256' as '720x1280' }); // a size reelforge adds: the SDK's type lists OpenAI's
    await eventually(async () => ((await client.videos.retrieve(video.id)).status === 'completed' ? true : undefined), 'the render', 180_000, 250);
    balls = Buffer.from(await (await client.videos.downloadContent(video.id)).arrayBuffer());
  }, 240_000);
  afterAll(async () => {
    await temporal?.close();
    await stack?.stop();
  });

  const call = async (method: string, route: string, json?: unknown) => {
    const res = await fetch(`${stack.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, ...(json ? { 'content-type': 'application/json' } : {}) },
      ...(json ? { body: JSON.stringify(json) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const history = async (id: string) => (await call('GET', `/v1/cameos/${id}/consent-history`)).body.events as ConsentEvent[];
  const character = async () => {
    const made = await client.videos.createCharacter({ name: 'Bouncers', video: await toFile(balls, 'balls.mp4', { type: 'video/mp4' }) });
    return made.id!;
  };

  it('a clip of the bouncing balls becomes a character, and its history records the check that found no face', async () => {
    const id = await character();
    expect((await call('GET', `/v1/videos/characters/${id}`)).body).toMatchObject({ id, object: 'character', status: 'verified' });
    const checked = (await history(id)).filter((e) => e.type === 'CameoVerificationChecked');
    expect(checked).toHaveLength(1);
    expect(checked[0]!.data).toMatchObject({
      check: 'human_likeness',
      passed: true,
      code: null,
      scores: { face_fraction: 0 },
      thresholds: { max_face_fraction: 0.2 },
    });
  }, 60_000);

  it('a clip of a human face is refused through createCharacter with human_likeness_requires_cameo, naming the cameo flow', async () => {
    const face = fs.readFileSync(await cameoClip('live', 'phrase'));
    const refused = await client.videos
      .createCharacter({ name: 'Astronaut', video: await toFile(face, 'face.mp4', { type: 'video/mp4' }) })
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(OpenAI.UnprocessableEntityError);
    const err = refused as InstanceType<typeof OpenAI.UnprocessableEntityError>;
    expect(err.status).toBe(422);
    expect(err.code).toBe('human_likeness_requires_cameo');
    expect(err.message).toMatch(/register a cameo with a spoken challenge \(POST \/v1\/cameos\/challenges, then POST \/v1\/cameos\)/);
    // The refused character stays on record, rejected, with the check that found the face.
    const id = /character (cameo_[A-Za-z0-9]+) refused/.exec(err.message)![1]!;
    const events = await history(id);
    expect(events.map((e) => e.type)).toEqual(['CameoRegistered', 'CameoVerificationChecked', 'CameoRejected']);
    expect(events[1]!.data).toMatchObject({ check: 'human_likeness', passed: false, code: 'human_likeness_requires_cameo' });
    expect((events[1]!.data.scores as { face_fraction: number }).face_fraction).toBeGreaterThanOrEqual(0.2);
    expect(events[2]!.data).toMatchObject({ code: 'human_likeness_requires_cameo' });
  }, 120_000);

  it('a character whose recording shows a face when verified again (its permission widened) blocks its in-flight uses', async () => {
    const id = await character();
    // Two videos of the owner's using it, still rendering: reserved as a generation would.
    const handle = temporal.client.workflow.getHandle(`cameo-${id}`);
    const uses = await Promise.all([1, 2].map(() => seedVideo(stack.eventStore, { ownerId: userId, cameoIds: [id], finished: false })));
    for (const videoId of uses) await handle.executeUpdate(reserveUseUpdate, { args: [{ video_id: videoId, user_id: userId, mutual: false }] });
    // What an earlier verifier let through, or a detector missed: the stored recording is a person's.
    const recordingKey = (await history(id))[0]!.data.recording_key as string;
    await stack.blobs.put(recordingKey, fs.readFileSync(await cameoClip('live', 'phrase')));

    const widened = await call('PUT', `/v1/cameos/${id}/permission`, { permission: 'everyone' });
    expect(widened.status).toBe(200);
    expect(widened.body).toMatchObject({ status: 'rejected', reject_code: 'human_likeness_requires_cameo' });
    const events = await history(id);
    const after = events.slice(events.findIndex((e) => e.type === 'CameoPermissionChanged'));
    expect(after.map((e) => e.type)).toEqual(['CameoPermissionChanged', 'CameoVerificationChecked', 'CameoRejected', 'CameoUseBlocked', 'CameoUseBlocked']);
    expect(after[1]!.data).toMatchObject({ check: 'human_likeness', passed: false });
    expect((after[2]!.data.reason as string).startsWith('verified again, the recording was refused: a character must not be a person')).toBe(true);
    expect(
      after
        .slice(3)
        .map((e) => [e.data.video_id, e.data.code])
        .sort(),
    ).toEqual(uses.map((v) => [v, 'consent_revoked']).sort());
    // Nothing can use it now.
    const video = `video_${randomBytes(16).toString('hex')}`;
    expect(await executeUpdateOrRefusal(handle, reserveUseUpdate, [{ video_id: video, user_id: userId, mutual: false }])).toMatchObject({
      ok: false,
      code: 'consent_missing',
    });
  }, 120_000);
});

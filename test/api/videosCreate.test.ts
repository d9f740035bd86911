// POST /v1/videos over HTTP against the real stack (test/support/videosApi.ts): JSON and multipart, every refusal of a
// bad request, Idempotency-Key replays and conflicts, and the OpenAPI document of the Videos routes.
import { randomUUID } from 'node:crypto';
import OpenAI, { toFile } from 'openai';
import type { VideoRequestedData } from '../../domain/video';
import { eventually } from '../support/env';
import { expectJustCreated, INPUT_REFERENCE_MAX_BYTES, PNG, problem, PROMPT, useVideosApi, type Video } from '../support/videosApi';

const api = useVideosApi();
const { keys, ids, taskQueue, idleTaskQueue, call, create, getVideo, untilStage, streamEvents, workflowIdsOn } = api;

describe('POST /v1/videos', () => {
  it('creates a video from JSON: 200 with the new Video, which GET then finds, and runs generationWorkflow video-<id>', async () => {
    const before = Math.floor(Date.now() / 1000);
    const video = await create(keys.alice, { prompt: PROMPT, seconds: 8, size: '256x256', style: 'noir', camera: 'pan', seed: 42 });
    expectJustCreated(video);
    expect(video).toMatchObject({
      id: expect.stringMatching(/^video_[0-9a-f]{32}$/),
      object: 'video',
      model: 'reference',
      prompt: PROMPT,
      seconds: '8',
      size: '256x256',
      style: 'noir',
      camera: 'pan',
      seed: 42,
      owner_id: ids.alice,
      visibility: 'private',
      completed_at: null,
      error: null,
    });
    expect(video.created_at).toBeGreaterThanOrEqual(before);

    const res = await getVideo(keys.alice, video.id);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: video.id, prompt: PROMPT, owner_id: ids.alice });

    const description = await api.env.client.workflow.getHandle(`video-${video.id}`).describe();
    expect(description).toMatchObject({ type: 'generationWorkflow', taskQueue });
    const requested = (await streamEvents(video.id))[0];
    expect(requested).toEqual({
      type: 'VideoRequested',
      data: expect.objectContaining({
        video_id: video.id,
        owner_id: ids.alice,
        seconds: 8,
        size: '256x256',
        style: 'noir',
        camera: 'pan',
        seed: 42,
        cameo_ids: [],
        publish: false,
        has_input_reference: false,
      }),
    });
    // Generation goes on: moderated, planned, and waiting for the (absent) GPU worker.
    await untilStage(keys.alice, video.id, 'rendering');
  });

  it('fills in the defaults and records the random seed it chose; a 2,000-character prompt is fine', async () => {
    const longest = await create(keys.alice, { prompt: 'a'.repeat(2000), size: '256x256' });
    expect(longest.prompt).toHaveLength(2000);
    const video = await create(keys.alice, { prompt: PROMPT });
    expect(video).toMatchObject({ model: 'reference', seconds: '4', size: '720x1280', style: 'cinematic', camera: 'static', visibility: 'private' });
    expect(Number.isInteger(video.seed) && video.seed >= 0 && video.seed <= 2147483647).toBe(true);
    const requested = (await streamEvents(video.id))[0]!.data as VideoRequestedData;
    expect(requested).toMatchObject({ seed: video.seed, seconds: 4, publish: false });
  });

  it('the OpenAI SDK creates, retrieves and lists videos (multipart, with an input_reference image)', async () => {
    const openai = new OpenAI({ baseURL: `${api.server.url}/v1`, apiKey: keys.alice, maxRetries: 0 });
    const created = await openai.videos.create({
      prompt: PROMPT,
      model: 'sora-2',
      seconds: '8',
      size: '1280x720',
      input_reference: await toFile(PNG, 'backdrop.png', { type: 'image/png' }),
      // reelforge's extras travel as further form fields.
      ...({ style: 'anime', camera: 'zoom', seed: 99, publish: false } as object),
    });
    expectJustCreated(created);
    expect(created).toMatchObject({ object: 'video', model: 'reference', seconds: '8', size: '1280x720', prompt: PROMPT });
    expect(created).toMatchObject({ style: 'anime', camera: 'zoom', seed: 99 });
    expect(await api.blobs.get(`videos/${created.id}/input_reference`)).toEqual(PNG);
    expect(((await streamEvents(created.id))[0]!.data as VideoRequestedData).has_input_reference).toBe(true);

    expect(await openai.videos.retrieve(created.id)).toMatchObject({ id: created.id, prompt: PROMPT });
    const listed: string[] = [];
    for await (const v of openai.videos.list({ limit: 2 })) listed.push(v.id);
    expect(listed).toContain(created.id);
  });

  it('takes the input_reference as a data URL in JSON too, and refuses one that is not a PNG or JPEG (422: the form is right, the bytes are not an image)', async () => {
    const video = await create(keys.alice, { prompt: PROMPT, input_reference: { image_url: `data:image/png;base64,${PNG.toString('base64')}` } });
    expect(await api.blobs.get(`videos/${video.id}/input_reference`)).toEqual(PNG);
    const gif = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1');
    const res = await call('POST', '/v1/videos', {
      key: keys.alice,
      json: { prompt: PROMPT, input_reference: { image_url: `data:image/png;base64,${gif.toString('base64')}` } },
    });
    expect((await problem(res, 422)).error).toMatchObject({ param: 'input_reference', code: 'unprocessable_content' });
  });

  describe('bad input: 4xx problem+json naming the field, and no workflow started', () => {
    const badKey = `bad-input-${randomUUID()}`;
    const cases: Array<{ name: string; json: unknown; field: string }> = [
      { name: 'empty prompt', json: { prompt: '' }, field: 'prompt' },
      { name: 'blank prompt', json: { prompt: '   ' }, field: 'prompt' },
      { name: '2,001-character prompt', json: { prompt: 'a'.repeat(2001) }, field: 'prompt' },
      { name: 'missing prompt', json: { seconds: 4 }, field: 'prompt' },
      { name: 'prompt not a string', json: { prompt: 42 }, field: 'prompt' },
      { name: 'control character in the prompt', json: { prompt: 'bouncing \u0007 balls' }, field: 'prompt' },
      { name: 'seconds 0', json: { prompt: PROMPT, seconds: 0 }, field: 'seconds' },
      { name: 'seconds 21', json: { prompt: PROMPT, seconds: 21 }, field: 'seconds' },
      { name: 'seconds "21"', json: { prompt: PROMPT, seconds: '21' }, field: 'seconds' },
      { name: 'seconds 4.5', json: { prompt: PROMPT, seconds: 4.5 }, field: 'seconds' },
      { name: 'unknown size', json: { prompt: PROMPT, size: '100x100' }, field: 'size' },
      { name: 'unknown style', json: { prompt: PROMPT, style: 'vaporwave' }, field: 'style' },
      { name: 'unknown camera', json: { prompt: PROMPT, camera: 'dolly' }, field: 'camera' },
      { name: 'unknown model', json: { prompt: PROMPT, model: 'gpt-video' }, field: 'model' },
      { name: 'negative seed', json: { prompt: PROMPT, seed: -1 }, field: 'seed' },
      { name: 'seed past 2^31-1', json: { prompt: PROMPT, seed: 2147483648 }, field: 'seed' },
      { name: 'cameo ids', json: { prompt: PROMPT, cameo_ids: ['video_0123'] }, field: 'cameo_ids' },
      { name: 'publish not a boolean', json: { prompt: PROMPT, publish: 'yes' }, field: 'publish' },
      { name: 'an unknown parameter', json: { prompt: PROMPT, second: 8 }, field: 'second' },
      { name: 'a JSON array', json: [PROMPT], field: 'body' },
    ];

    it.each(cases)('$name → 400 naming $field', async ({ json, field }) => {
      const res = await call('POST', '/v1/videos', { key: keys.alice, json, headers: { 'idempotency-key': badKey }, target: api.idleServer });
      const body = await problem(res, 400);
      expect(body.errors?.[0]?.field).toBe(field);
      expect(body.error).toMatchObject({ type: 'invalid_request_error', param: field, code: 'validation_failed' });
      expect(body.detail).toContain(field);
    });

    it.each([
      [['cameo_1', 'cameo_2', 'cameo_3', 'cameo_4', 'cameo_5'], 'at most 4 cameos, got 5'],
      [['video_1'], '"video_1" is not a cameo id (cameo_ followed by letters and digits)'],
      [['cameo_1', 'cameo_1'], 'names a cameo more than once'],
    ])('refuses cameo_ids %j: %s', async (cameoIds, message) => {
      const res = await call('POST', '/v1/videos', { key: keys.alice, json: { prompt: PROMPT, cameo_ids: cameoIds }, target: api.idleServer });
      expect((await problem(res, 400)).errors).toEqual([{ field: 'cameo_ids', message }]);
    });

    it('names every bad field at once', async () => {
      const res = await call('POST', '/v1/videos', { key: keys.alice, json: { prompt: '', seconds: 0, size: 'huge' }, target: api.idleServer });
      expect((await problem(res, 400)).errors?.map((e) => e.field)).toEqual(['prompt', 'seconds', 'size']);
    });

    it('malformed JSON → 400 naming body', async () => {
      const res = await call('POST', '/v1/videos', {
        key: keys.alice,
        body: '{"prompt": "balls",',
        headers: { 'content-type': 'application/json' },
        target: api.idleServer,
      });
      const body = await problem(res, 400);
      expect(body.errors?.[0]?.field).toBe('body');
      expect(body.error).toMatchObject({ type: 'invalid_request_error', param: 'body', code: 'invalid_json' });
    });

    it('a content type other than JSON or multipart → 415 naming Content-Type', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
        const res = await call('POST', '/v1/videos', { key: keys.alice, body: `prompt=${PROMPT}`, headers: { 'content-type': type }, target: api.idleServer });
        const body = await problem(res, 415);
        expect(body.error).toMatchObject({ param: 'Content-Type', code: 'unsupported_media_type' });
      }
    });

    it('multipart: fields as strings are checked the same way; a non-image or oversized input_reference is refused', async () => {
      const form = (fields: Record<string, string>, file?: { bytes: Buffer; name: string; type: string }) => {
        const data = new FormData();
        for (const [k, v] of Object.entries(fields)) data.append(k, v);
        if (file) data.append('input_reference', new Blob([file.bytes], { type: file.type }), file.name);
        return data;
      };
      const post = (body: FormData) => call('POST', '/v1/videos', { key: keys.alice, body, headers: { 'idempotency-key': badKey }, target: api.idleServer });
      expect((await problem(await post(form({ prompt: PROMPT, seconds: '0' })), 400)).error.param).toBe('seconds');
      expect((await problem(await post(form({ prompt: PROMPT, publish: 'maybe' })), 400)).error.param).toBe('publish');
      expect((await problem(await post(form({ prompt: PROMPT, seed: '-3' })), 400)).error.param).toBe('seed');
      expect((await problem(await post(form({ prompt: PROMPT, 'cameo_ids[]': 'video_1' })), 400)).error.param).toBe('cameo_ids');
      expect((await problem(await post(form({ prompt: '' })), 400)).error.param).toBe('prompt');
      // A text file named like an image is still text: the bytes decide.
      const fake = await problem(
        await post(form({ prompt: PROMPT }, { bytes: Buffer.from('not an image at all'), name: 'backdrop.png', type: 'image/png' })),
        422,
      );
      expect(fake.errors).toEqual([{ field: 'input_reference', message: 'must be a PNG or JPEG image' }]);
      const big = Buffer.concat([PNG, Buffer.alloc(INPUT_REFERENCE_MAX_BYTES + 1)]);
      const tooLarge = await problem(await post(form({ prompt: PROMPT }, { bytes: big, name: 'big.png', type: 'image/png' })), 413);
      expect(tooLarge.error.param).toBe('input_reference');
    });

    it('a malformed Idempotency-Key → 400 naming it', async () => {
      const res = await call('POST', '/v1/videos', {
        key: keys.alice,
        json: { prompt: PROMPT },
        headers: { 'idempotency-key': 'k'.repeat(256) },
        target: api.idleServer,
      });
      expect((await problem(res, 400)).error.param).toBe('Idempotency-Key');
    });

    it('no API key, or a bad one → 401', async () => {
      expect((await problem(await call('POST', '/v1/videos', { json: { prompt: PROMPT }, target: api.idleServer }), 401)).error.code).toBe('invalid_api_key');
      expect((await problem(await call('POST', '/v1/videos', { key: 'rf_not_a_key', json: { prompt: PROMPT }, target: api.idleServer }), 401)).error.code).toBe(
        'invalid_api_key',
      );
    });

    it('after all of them: no workflow was started, and the Idempotency-Key they carried is still unused', async () => {
      // The same key with a good body now creates a video (no 409: the refused requests claimed nothing). It is the
      // only workflow that this server's task queue has ever seen.
      const sentinel = await (async () => {
        const res = await call('POST', '/v1/videos', {
          key: keys.alice,
          json: { prompt: PROMPT },
          headers: { 'idempotency-key': badKey },
          target: api.idleServer,
        });
        expect(res.status).toBe(200);
        return (await res.json()) as Video;
      })();
      const started = await eventually(async () => {
        const found = await workflowIdsOn(idleTaskQueue);
        return found.includes(`video-${sentinel.id}`) ? found : undefined;
      }, 'the sentinel workflow to be visible');
      expect(started).toEqual([`video-${sentinel.id}`]);
      // No worker polls the idle queue, so the read model never heard of it: the answer was built from the request.
      expect(sentinel).toMatchObject({ status: 'queued', progress: 0, owner_id: ids.alice, seconds: '4' });
    });
  });
});

describe('Idempotency-Key', () => {
  it('the same key and body answer the same video, and start one workflow', async () => {
    const key = randomUUID();
    const first = await create(keys.alice, { prompt: PROMPT, seconds: 8, size: '256x256' }, { 'idempotency-key': key });
    // The same parameters as a form, with "8" for 8: the same request once normalized.
    const form = new FormData();
    form.append('prompt', PROMPT);
    form.append('seconds', '8');
    form.append('size', '256x256');
    const res = await call('POST', '/v1/videos', { key: keys.alice, body: form, headers: { 'idempotency-key': key } });
    expect(res.status).toBe(200);
    expect(res.headers.get('idempotent-replayed')).toBe('true');
    const second = (await res.json()) as Video;
    expect(second.id).toBe(first.id);
    expect(second.seed).toBe(first.seed);

    const runs: string[] = [];
    for await (const wf of api.env.client.workflow.list({ query: `WorkflowId = 'video-${first.id}'` })) runs.push(wf.runId);
    expect(runs).toHaveLength(1);
    expect((await streamEvents(first.id)).filter((e) => e.type === 'VideoRequested')).toHaveLength(1);
  });

  it('the same key with another body → 409 idempotency_key_reused, and nothing is started', async () => {
    const key = randomUUID();
    const first = await create(keys.alice, { prompt: PROMPT, size: '256x256' }, { 'idempotency-key': key });
    const res = await call('POST', '/v1/videos', {
      key: keys.alice,
      json: { prompt: `${PROMPT}, slowly`, size: '256x256' },
      headers: { 'idempotency-key': key },
    });
    const body = await problem(res, 409);
    expect(body.error).toMatchObject({ code: 'idempotency_key_reused', param: 'Idempotency-Key' });
    expect(body.detail).toContain(first.id);
    // An explicit seed is part of the body too.
    expect(
      (await call('POST', '/v1/videos', { key: keys.alice, json: { prompt: PROMPT, size: '256x256', seed: 5 }, headers: { 'idempotency-key': key } })).status,
    ).toBe(409);
  });

  it('concurrent requests with one key resolve to one video', async () => {
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 5 }, () => create(keys.alice, { prompt: PROMPT, size: '256x256' }, { 'idempotency-key': key })));
    expect(new Set(answers.map((v) => v.id)).size).toBe(1);
    const runs: string[] = [];
    for await (const wf of api.env.client.workflow.list({ query: `WorkflowId = 'video-${answers[0]!.id}'` })) runs.push(wf.runId);
    expect(runs).toHaveLength(1);
  });

  it('a replay after the video was deleted answers that video as it ended, and creates nothing', async () => {
    const key = randomUUID();
    const json = { prompt: PROMPT, size: '256x256', input_reference: { image_url: `data:image/png;base64,${PNG.toString('base64')}` } };
    const first = await create(keys.alice, json, { 'idempotency-key': key });
    await untilStage(keys.alice, first.id, 'rendering');
    expect((await call('DELETE', `/v1/videos/${first.id}`, { key: keys.alice })).status).toBe(200);
    const again = await create(keys.alice, json, { 'idempotency-key': key });
    expect(again).toMatchObject({ id: first.id, status: 'cancelled' });
    expect(await api.blobs.list(`videos/${first.id}/`)).toEqual([]);
    expect((await streamEvents(first.id)).filter((e) => e.type === 'VideoRequested')).toHaveLength(1);
  });

  it('keys belong to their owner: another user with the same key gets a video of their own', async () => {
    const key = randomUUID();
    const alices = await create(keys.alice, { prompt: PROMPT, size: '256x256' }, { 'idempotency-key': key });
    const bobs = await create(keys.bob, { prompt: PROMPT, size: '256x256' }, { 'idempotency-key': key });
    expect(bobs.id).not.toBe(alices.id);
    expect(bobs.owner_id).toBe(ids.bob);
  });
});

describe('OpenAPI', () => {
  it('documents every Videos route from its schemas, both create body types, and problem+json errors', async () => {
    const doc = (await (await fetch(`${api.server.url}/openapi.json`)).json()) as {
      paths: Record<
        string,
        Record<
          string,
          {
            security?: unknown;
            requestBody?: { content: Record<string, unknown> };
            responses: Record<string, { content?: Record<string, unknown> }>;
            parameters?: Array<{ name: string; in: string }>;
          }
        >
      >;
    };
    const create = doc.paths['/v1/videos']!.post!;
    expect(Object.keys(create.requestBody!.content).sort()).toEqual(['application/json', 'multipart/form-data']);
    expect(JSON.stringify(create.requestBody!.content['application/json'])).toContain('"maxLength":2000');
    expect(create.parameters?.some((p) => p.in === 'header' && p.name === 'idempotency-key')).toBe(true);
    expect(Object.keys(create.responses).sort()).toEqual(['200', '400', '401', '409', '413', '415', '422', '429', '500', '503']);
    expect(create.responses['409']!.content).toHaveProperty(['application/problem+json']);
    expect(create.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/v1/videos']!.get!.parameters!.map((p) => p.name).sort()).toEqual(['after', 'limit', 'order']);
    for (const [route, method] of [
      ['/v1/videos/{id}', 'get'],
      ['/v1/videos/{id}', 'delete'],
      ['/v1/videos/{id}/content', 'get'],
      ['/v1/videos/{id}/stream', 'get'],
      ['/v1/videos/{id}/events', 'get'],
      ['/v1/videos/{id}/cancel', 'post'],
      ['/v1/videos/{id}/publish', 'post'],
    ] as const) {
      expect({ route, method, documented: doc.paths[route]?.[method] !== undefined }).toEqual({ route, method, documented: true });
      expect(doc.paths[route]![method]!.responses['404']).toBeDefined();
    }
    expect(Object.keys(doc.paths['/v1/videos/{id}/content']!.get!.responses['200']!.content!)).toEqual(['video/mp4', 'image/jpeg']);
  });
});

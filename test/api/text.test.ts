// Text the platform cannot store or render is refused at the door, over real HTTP: a NUL or an unpaired surrogate
// in a prompt, a display name, a query value or an Idempotency-Key answers 400 problem+json naming the field, and
// nothing is recorded; a remix prompt holding a C1 control (which the engine refuses) answers 400 at submission. A
// method a path does not have answers 405 with Allow, and the OpenAPI document declares what the routes answer.
import net from 'node:net';
import { startApiStack } from '../support/apiStack';

interface Problem {
  status: number;
  detail: string;
  errors?: { field: string; message: string }[];
  error: { param: string | null; code: string };
}

describe('text that cannot be stored or rendered, and the API contract', () => {
  let stack: Awaited<ReturnType<typeof startApiStack>>;
  let key: string;
  let adminKey: string;

  beforeAll(async () => {
    stack = await startApiStack({ renders: false });
    key = (await stack.user('text-user')).apiKey;
    adminKey = (await stack.user('text-admin', 'admin')).apiKey;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const call = (method: string, path: string, init: { body?: string | FormData; headers?: Record<string, string>; as?: string } = {}) =>
    fetch(`${stack.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${init.as ?? key}`, ...(typeof init.body === 'string' ? { 'content-type': 'application/json' } : {}), ...init.headers },
      body: init.body,
    });

  /** A 400 problem+json whose first field error names `field`. */
  async function refused(res: Response, field: string, message: RegExp): Promise<Problem> {
    const text = await res.text();
    expect({ status: res.status, type: res.headers.get('content-type') }).toEqual({ status: 400, type: expect.stringContaining('application/problem+json') });
    const body = JSON.parse(text) as Problem;
    expect(body.error.param).toBe(field);
    expect(body.errors?.[0]).toMatchObject({ field, message: expect.stringMatching(message) });
    return body;
  }

  const NUL = /NUL \(U\+0000\)|control character U\+0000/;
  const LONE = /unpaired surrogate U\+D83D/;
  const videoId = `video_${'ab'.repeat(16)}`;

  it('a prompt with a NUL or a lone surrogate: 400 naming prompt, on create and on remix (the remix once answered 500 from the idempotency store)', async () => {
    for (const prompt of ['red balls \u0000 bouncing', 'red balls \ud83d bouncing']) {
      const message = prompt.includes('\u0000') ? NUL : LONE;
      await refused(await call('POST', '/v1/videos', { body: JSON.stringify({ prompt }) }), 'prompt', message);
      await refused(
        await call('POST', `/v1/videos/${videoId}/remix`, {
          body: JSON.stringify({ prompt }),
          headers: { 'idempotency-key': `remix-${prompt.length}-${message.source.length}` },
        }),
        'prompt',
        message,
      );
    }
    // Nothing was recorded: the caller has no videos.
    const list = (await (await call('GET', '/v1/videos')).json()) as { data: unknown[] };
    expect(list.data).toEqual([]);
  });

  it('a remix prompt with a C1 control character (U+0093), which the engine refuses: 400 at submission, naming the character', async () => {
    const body = await refused(
      await call('POST', `/v1/videos/${videoId}/remix`, { body: JSON.stringify({ prompt: 'make them \u0093blue' }) }),
      'prompt',
      /control character U\+0093 at index 10/,
    );
    expect(body.error.code).toBe('validation_failed');
    await refused(
      await call('POST', '/v1/videos/edits', { body: JSON.stringify({ prompt: '\u0093', video: { id: videoId } }) }),
      'prompt',
      /control character U\+0093/,
    );
    await refused(await call('POST', '/v1/videos', { body: JSON.stringify({ prompt: 'red \u0085 balls' }) }), 'prompt', /control character U\+0085/);
  });

  it("a display name with a NUL or a lone surrogate: 400 naming it (a user's name as JSON, a cameo's as a form field)", async () => {
    await refused(await call('POST', '/v1/users', { as: adminKey, body: JSON.stringify({ name: 'Al\u0000ice', role: 'user' }) }), 'name', NUL);
    await refused(await call('POST', '/v1/users', { as: adminKey, body: JSON.stringify({ name: 'Al\ud83dice', role: 'user' }) }), 'name', LONE);
    const form = new FormData();
    form.set('challenge_id', `chal_${'0'.repeat(32)}`);
    form.set('display_name', 'Al\u0000ice');
    form.set('recording', new Blob([Buffer.from('not a video')], { type: 'video/mp4' }), 'clip.mp4');
    const res = await call('POST', '/v1/cameos', { body: form });
    expect(res.status).toBe(400);
    const problem = (await res.json()) as Problem;
    expect(problem.errors).toEqual(expect.arrayContaining([{ field: 'display_name', message: 'contains control character U+0000 at index 2' }]));
  });

  it('a query value with a NUL or a lone surrogate: 400 naming the parameter', async () => {
    await refused(await call('GET', '/v1/videos?after=video_%00'), 'after', NUL);
    await refused(await call('GET', '/v1/feed?after=%00'), 'after', NUL);
    // A lone surrogate cannot be percent-encoded as UTF-8; its WTF-8 bytes never decode to one.
    const wtf8 = await call('GET', '/v1/feed?after=%ED%A0%BD');
    expect([400, 422]).toContain(wtf8.status);
    await refused(await call('GET', `/v1/cameos/cameo_x%00/consent-history`), 'id', NUL);
  });

  /** A raw HTTP/1.1 request, for what fetch refuses to send; the status and the body. */
  function raw(request: Buffer): Promise<{ status: number; headers: string; body: string }> {
    const { port } = new URL(stack.url);
    return new Promise((resolve, reject) => {
      // Written, not ended: the server answers (Connection: close) and closes.
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(request));
      const chunks: Buffer[] = [];
      socket.on('data', (c) => chunks.push(c));
      socket.on('error', reject);
      socket.on('close', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const [head, ...rest] = text.split('\r\n\r\n');
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head ?? '')?.[1]), headers: head ?? '', body: rest.join('\r\n\r\n') });
      });
    });
  }

  it('an Idempotency-Key with a NUL or a lone surrogate (WTF-8 bytes): 400 problem+json naming Idempotency-Key', async () => {
    const json = JSON.stringify({ prompt: 'red balls' });
    for (const keyBytes of [Buffer.from('key\u0000one', 'latin1'), Buffer.from([0x6b, 0xed, 0xa0, 0xbd])]) {
      const request = Buffer.concat([
        Buffer.from(
          `POST /v1/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\nIdempotency-Key: `,
        ),
        keyBytes,
        Buffer.from(`\r\nConnection: close\r\n\r\n${json}`),
      ]);
      const res = await raw(request);
      expect(res.status).toBe(400);
      expect(res.headers.toLowerCase()).toContain('content-type: application/problem+json');
      const body = JSON.parse(res.body) as Problem;
      expect(body.error.param?.toLowerCase()).toBe('idempotency-key');
    }
    const list = (await (await call('GET', '/v1/videos')).json()) as { data: unknown[] };
    expect(list.data).toEqual([]);
  });

  it('a method a path does not have: 405 problem+json with Allow, even a QUERY without a body', async () => {
    for (const [method, path, allow] of [
      ['PATCH', `/v1/videos/${videoId}`, 'DELETE, GET, HEAD'],
      ['QUERY', '/v1/cameos/cameo_x', 'DELETE, GET, HEAD'],
      ['OPTIONS', '/healthz', 'GET, HEAD'],
      ['PUT', '/v1/cameos/challenges', 'POST'],
    ] as const) {
      const res = await call(method, path);
      expect({ method, status: res.status, allow: res.headers.get('allow') }).toEqual({ method, status: 405, allow });
      expect(((await res.json()) as Problem).error.code).toBe('method_not_allowed');
    }
    expect((await call('GET', '/v1/no-such-thing')).status).toBe(404);
  });

  it('the OpenAPI document declares the errors every route answers and the stream events as they are sent', async () => {
    type Op = { responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }> };
    const doc = (await (await fetch(`${stack.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, Op>> };
    expect(Object.keys(doc.paths['/v1/cameos/{id}']!.delete!.responses)).toEqual(expect.arrayContaining(['400', '401', '404', '500']));
    expect(Object.keys(doc.paths['/v1/cameos/{id}/consent-history']!.get!.responses)).toEqual(expect.arrayContaining(['400', '401', '404', '500']));
    expect(Object.keys(doc.paths['/v1/videos']!.post!.responses)).toEqual(expect.arrayContaining(['400', '413', '415', '422', '500']));
    const event = JSON.stringify(doc.paths['/v1/videos/{id}/stream']!.get!.responses['200']!.content!['text/event-stream']!.schema);
    expect(event).toContain('"contentMediaType":"application/json"');
    expect(event).toContain('"enum":["error"]');
  });
});

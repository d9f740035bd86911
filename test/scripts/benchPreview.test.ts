// bench:pipeline's first-playable measurement against a stand-in API: it waits for the playlist to list a media
// segment, fetches the init section and that segment with the key, and reads a missing route as "no endpoint"
// rather than failing the bench.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { sendRouteNotFound } from '../../api/plugins/errors';
import { firstSegment, waitFirstPlayable } from '../../scripts/bench/preview';

const KEY = 'sk_test_preview';

/** An API answering the playlist with what `playlist` gives for its nth request, and any other path with 200. */
async function standIn(playlist: (asked: number) => { status: number; body: string }) {
  const seen: { path: string; auth: string | undefined }[] = [];
  let asked = 0;
  const server = http.createServer((req, res) => {
    seen.push({ path: req.url!, auth: req.headers.authorization });
    const answer = req.url!.endsWith('/preview.m3u8') ? playlist(++asked) : { status: 200, body: 'bytes' };
    res.writeHead(answer.status).end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** Another error body as api/plugins/errors.ts writes it (problem+json with the OpenAI-style `error`), trimmed. */
const problem = (code: string) => JSON.stringify({ title: 'Not Found', status: 404, error: { type: 'invalid_request_error', code } });

const LISTED = ['#EXTM3U', '#EXT-X-PLAYLIST-TYPE:EVENT', '#EXT-X-MAP:URI="init.mp4"', '#EXTINF:2.000,', 'segments/000.m4s', ''].join('\n');
const EMPTY = ['#EXTM3U', '#EXT-X-PLAYLIST-TYPE:EVENT', '#EXT-X-MAP:URI="init.mp4"', ''].join('\n');

describe("bench:pipeline's first playable preview", () => {
  it('polls until a segment is listed, then fetches the init section and that segment with the key', async () => {
    const api = await standIn((n) => (n < 3 ? { status: 200, body: EMPTY } : { status: 200, body: LISTED }));
    try {
      const first = await waitFirstPlayable({ url: api.url, apiKey: KEY }, 'video_1', Date.now());
      expect(first).toMatchObject({
        kind: 'playable',
        mapUrl: `${api.url}/v1/videos/video_1/init.mp4`,
        segmentUrl: `${api.url}/v1/videos/video_1/segments/000.m4s`,
      });
      expect(api.seen.filter((s) => s.path.endsWith('.m3u8'))).toHaveLength(3);
      expect(
        api.seen
          .map((s) => s.path)
          .slice(-2)
          .sort(),
      ).toEqual(['/v1/videos/video_1/init.mp4', '/v1/videos/video_1/segments/000.m4s']);
      expect(api.seen.every((s) => s.auth === `Bearer ${KEY}`)).toBe(true);
    } finally {
      await api.close();
    }
  });

  it('reads a missing route as no endpoint, and any other 404 as not yet', async () => {
    // What the API answers for a route it does not have, from its own handler.
    const app = Fastify();
    app.setNotFoundHandler(sendRouteNotFound);
    const missing = await app.inject({ method: 'GET', url: '/v1/videos/video_1/preview.m3u8' });
    await app.close();
    const absent = await standIn(() => ({ status: missing.statusCode, body: missing.body }));
    try {
      await expect(waitFirstPlayable({ url: absent.url, apiKey: KEY }, 'video_1', Date.now())).resolves.toEqual({ kind: 'no endpoint' });
    } finally {
      await absent.close();
    }
    const lagging = await standIn((n) => (n < 2 ? { status: 404, body: problem('video_not_found') } : { status: 200, body: LISTED }));
    try {
      await expect(waitFirstPlayable({ url: lagging.url, apiKey: KEY }, 'video_1', Date.now())).resolves.toMatchObject({ kind: 'playable' });
    } finally {
      await lagging.close();
    }
  });

  it('refuses a playlist whose segment has no init section', () => {
    expect(firstSegment(EMPTY)).toBeUndefined();
    expect(firstSegment(LISTED)).toEqual({ map: 'init.mp4', segment: 'segments/000.m4s' });
    expect(() => firstSegment(['#EXTM3U', '#EXTINF:2.000,', 'seg0.m4s'].join('\n'))).toThrow(/no #EXT-X-MAP/);
  });
});

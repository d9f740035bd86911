// POST to first playable preview, as a player sees it, for bench:pipeline: the video's HLS playlist
// (GET /v1/videos/{id}/preview.m3u8, an EVENT playlist whose media segments appear as chunks pass their checks) polled
// until it lists a media segment, then its fMP4 init section (#EXT-X-MAP) and that first segment fetched. A player
// can start once both have arrived, so that moment is "first playable".

/** How often the playlist is asked for: the resolution of the measurement, cheap next to a render. */
export const PREVIEW_POLL_MS = 25;
/** A lone 4 s video lists its first segment within seconds; this only stops a bench that would otherwise hang. */
const PREVIEW_DEADLINE_MS = 120_000;

export interface PreviewClient {
  url: string;
  apiKey: string;
}

export type FirstPlayable =
  | {
      kind: 'playable';
      /** The playlist's URL and what it first listed, for the JSON results. */
      playlistUrl: string;
      mapUrl: string;
      segmentUrl: string;
      /** postAt -> the playlist first listed a media segment. */
      listedMs: number;
      /** postAt -> the init section and the first segment both answered 200 (bodies read). */
      playableMs: number;
    }
  /** The API has no such route (404 route_not_found): this branch predates the preview endpoint. */
  | { kind: 'no endpoint' };

/**
 * The init section and the first media segment a playlist lists, as written (relative URIs unresolved); undefined while
 * it lists no media segment yet. A media segment is the first URI line after an #EXTINF tag.
 */
export function firstSegment(playlist: string): { map: string; segment: string } | undefined {
  const lines = playlist.split(/\r?\n/).map((line) => line.trim());
  const extinf = lines.findIndex((line) => line.startsWith('#EXTINF'));
  if (extinf < 0) return undefined;
  const segment = lines.slice(extinf + 1).find((line) => line !== '' && !line.startsWith('#'));
  if (segment === undefined) return undefined;
  const mapTag = lines.find((line) => line.startsWith('#EXT-X-MAP:'));
  const map = mapTag && /(?:^|,)URI="([^"]*)"/.exec(mapTag.slice('#EXT-X-MAP:'.length))?.[1];
  // The contract is fMP4 segments, which play only after their init section: a playlist without one is not playable.
  if (!map) throw new Error(`the preview playlist lists segment ${segment} but no #EXT-X-MAP:URI="..." (its init section):\n${playlist}`);
  return { map, segment };
}

/**
 * Polls the video's preview playlist every PREVIEW_POLL_MS from now until it lists a media segment, then fetches the
 * init section and that segment. Times are from `postAt` (Date.now() before the POST). The key goes only to the API's
 * own origin: a playlist may point its segments elsewhere (a CDN, a presigned URL).
 */
export async function waitFirstPlayable(client: PreviewClient, id: string, postAt: number): Promise<FirstPlayable> {
  const playlistUrl = `${client.url}/v1/videos/${id}/preview.m3u8`;
  const origin = new URL(client.url).origin;
  const get = (url: string) => fetch(url, new URL(url).origin === origin ? { headers: { authorization: `Bearer ${client.apiKey}` } } : {});
  const deadline = Date.now() + PREVIEW_DEADLINE_MS;
  let last = 'no answer yet';
  for (;;) {
    const res = await get(playlistUrl);
    const body = await res.text();
    if (res.status === 404 && problemCode(body) === 'route_not_found') return { kind: 'no endpoint' };
    // A caller's mistake does not go away by asking again.
    if (res.status === 400 || res.status === 401 || res.status === 403) throw new Error(`GET ${playlistUrl} answered ${res.status}: ${body}`);
    // Anything else that is not 200 (the video not yet in the read model, no playlist yet) may change on the next poll.
    const listed = res.status === 200 ? firstSegment(body) : undefined;
    if (listed) {
      const listedMs = Date.now() - postAt;
      const mapUrl = new URL(listed.map, playlistUrl).toString();
      const segmentUrl = new URL(listed.segment, playlistUrl).toString();
      await Promise.all(
        [mapUrl, segmentUrl].map(async (url) => {
          const part = await get(url);
          const bytes = await part.arrayBuffer();
          if (part.status !== 200)
            throw new Error(`the preview playlist lists ${url}, which answered ${part.status}: ${Buffer.from(bytes).toString('utf8', 0, 300)}`);
        }),
      );
      return { kind: 'playable', playlistUrl, mapUrl, segmentUrl, listedMs, playableMs: Date.now() - postAt };
    }
    last = `${res.status}: ${body.slice(0, 300)}`;
    if (Date.now() > deadline)
      throw new Error(`video ${id}: no media segment in its preview playlist within ${PREVIEW_DEADLINE_MS / 1000} s (last answer ${last})`);
    await new Promise((resolve) => setTimeout(resolve, PREVIEW_POLL_MS));
  }
}

/** The machine-readable code of the API's error body (problem+json, its OpenAI-style `error.code`), if it is one. */
function problemCode(body: string): string | undefined {
  try {
    const code = (JSON.parse(body) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

// `Prefer: wait=N` on the routes that start a video (POST /v1/videos, remix, edits, extensions; RFC 7240): the request is held until the video is terminal or N seconds have
// passed since it arrived, then answered with the video as GET /v1/videos/:id shows it, with `Preference-Applied`.
// The job never depends on the request: it runs in its workflow whether the client waits, goes away, or the server
// closes (a wait ends early then, answering the state of that moment).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ProblemError } from '../plugins/errors';
import { sleep } from './context';
import type { VideoReadModel } from './readModel';
import type { VideoObject } from './schemas';

export const MAX_PREFER_WAIT_S = 60;
const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

function badPrefer(value: string, why: string): ProblemError {
  return new ProblemError({
    status: 400,
    code: 'validation_failed',
    detail: `Prefer: ${JSON.stringify(value)} ${why}`,
    errors: [{ field: 'Prefer', message: why }],
  });
}

/**
 * The `wait` preference of the Prefer header(s), in seconds, or undefined when none asks for it. Preferences are
 * `name[=value]` separated by commas, each maybe followed by `;parameters` (RFC 7240 section 2); names are matched
 * without regard to case, other preferences are ignored (as the RFC asks), and the first `wait` counts. A `wait` whose
 * value is not a whole number from 1 to 60 is refused with 400 naming the header, before anything is created.
 */
export function preferredWait(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const all = Array.isArray(header) ? header.join(',') : header;
  for (const preference of all.split(',')) {
    const [head = ''] = preference.split(';');
    const eq = head.indexOf('=');
    const name = (eq < 0 ? head : head.slice(0, eq)).trim().toLowerCase();
    if (name !== 'wait') continue;
    const raw = eq < 0 ? '' : head.slice(eq + 1).trim();
    const value = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
    if (!/^\d{1,3}$/.test(value) || Number(value) < 1 || Number(value) > MAX_PREFER_WAIT_S) {
      throw badPrefer(all, `wait must be a whole number of seconds from 1 to ${MAX_PREFER_WAIT_S} (wait=N)`);
    }
    return Number(value);
  }
  return undefined;
}

/**
 * Polls the read model until the video is terminal, `deadline` (epoch ms) passes, or `stop()` says to stop (the client
 * went away, the server is closing); answers the last video the read model showed (undefined if it never did).
 */
export async function waitForTerminal(
  readModel: VideoReadModel,
  videoId: string,
  deadline: number,
  stop: () => boolean,
  intervalMs = 200,
): Promise<VideoObject | undefined> {
  let video: VideoObject | undefined;
  for (;;) {
    video = (await readModel.get(videoId)) ?? video;
    if ((video && TERMINAL.has(video.status)) || stop() || Date.now() >= deadline) return video;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

/**
 * The answer of a route that started `video` (as it stood): itself without a `wait` preference; with one, held until
 * the video is terminal or `wait` seconds after `arrivedMs`, with `Preference-Applied`. The workflow runs on whatever
 * happens to this request; a client that goes away, or the server closing, stops the wait only. (Not
 * request.raw.destroyed: the request stream is destroyed once its body has been read; the socket is what closes.)
 */
export async function answerAfterWait(
  deps: { readModel: VideoReadModel; closing: () => boolean },
  http: { request: FastifyRequest; reply: FastifyReply },
  input: { video: VideoObject; wait: number | undefined; arrivedMs: number },
): Promise<VideoObject> {
  const { video, wait, arrivedMs } = input;
  if (wait === undefined) return video;
  const { request, reply } = http;
  const gone = () => deps.closing() || reply.raw.destroyed || request.raw.socket?.destroyed === true;
  const waited = await waitForTerminal(deps.readModel, video.id, arrivedMs + wait * 1000, gone);
  reply.header('preference-applied', `wait=${wait}`);
  return waited ?? video;
}

// Reading a cameo: the cameo (or the same as a `character`), the videos it appears in, and its hash-chained consent
// history, verified from the first event (JSON, or exported as NDJSON). All folded from the `cameo-<id>` stream.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { verifyChain } from '../../domain/cameo/chain';
import type { CameoRegisteredData } from '../../domain/cameo/events';
import { cameoStream } from '../../domain/cameo/follows';
import { StreamNotFound } from '../../infra/eventstore/errors';
import type { RecordedEvent } from '../../infra/eventstore/port';
import { callerOf, hasRole } from '../plugins/auth';
import { CAMEO_ID, cameoNotFound, notFound, toCameo, toCharacter, type CameosContext } from './context';
import {
  AppearanceList,
  CameoIdParams,
  CameoObject,
  CharacterObject,
  ConsentHistory,
  ConsentHistoryQuery,
  type AppearanceObject,
  type ConsentEventObject,
} from './schemas';

const NDJSON = 'application/x-ndjson';

/** Who made the decision an event records: `by` where the event names it, the video's user for a use, else the actor. */
function actorOf(event: RecordedEvent): string | null {
  const data = event.data as Record<string, unknown> | null;
  if (data && typeof data.by === 'string') return data.by;
  if (event.type === 'CameoUsed' && data && typeof data.user_id === 'string') return data.user_id;
  if (event.type === 'CameoRegistered' && data && typeof data.owner_id === 'string') return data.owner_id;
  return typeof event.metadata.actor === 'string' ? event.metadata.actor : null;
}

function toConsentEvent(event: RecordedEvent): ConsentEventObject {
  const data = event.data as Record<string, unknown> | null;
  return {
    revision: Number(event.revision),
    type: event.type,
    actor_id: actorOf(event),
    at: data && typeof data.at === 'number' ? data.at : null,
    data: event.data,
    hash: typeof event.metadata.hash === 'string' ? event.metadata.hash : null,
    prev_hash: typeof event.metadata.prev_hash === 'string' ? event.metadata.prev_hash : null,
  };
}

function wantsNdjson(request: FastifyRequest<{ Querystring: ConsentHistoryQuery }>): boolean {
  if (request.query.format === 'jsonl') return true;
  if (request.query.format === 'json') return false;
  return (request.headers.accept ?? '').split(',').some((part) => part.split(';')[0]!.trim().toLowerCase() === NDJSON);
}

export const readCameoRoutes: FastifyPluginAsync<CameosContext> = async (app, context) => {
  const { eventStore, videos, visibleCameo, cameoFor } = context;

  app.get<{ Params: CameoIdParams }>(
    '/v1/cameos/:id',
    { schema: { tags: ['cameos'], summary: 'Retrieve a cameo', params: CameoIdParams, response: { 200: CameoObject, ...notFound } } },
    async (request) => {
      const caller = callerOf(request);
      return toCameo(await visibleCameo(caller, request.params.id), caller);
    },
  );

  app.get<{ Params: CameoIdParams }>(
    '/v1/videos/characters/:id',
    {
      schema: {
        tags: ['cameos', 'videos'],
        summary: 'Retrieve a character (a cameo), as the OpenAI Videos API',
        params: CameoIdParams,
        response: { 200: CharacterObject, ...notFound },
      },
    },
    async (request) => toCharacter(await visibleCameo(callerOf(request), request.params.id)),
  );

  app.get<{ Params: CameoIdParams }>(
    '/v1/cameos/:id/appearances',
    {
      schema: {
        tags: ['cameos'],
        summary: 'The videos that use the cameo: drafts, published ones and jobs in flight',
        description: 'For its owner and admins.',
        params: CameoIdParams,
        response: { 200: AppearanceList, ...notFound },
      },
    },
    async (request) => {
      const state = await cameoFor(callerOf(request), request.params.id, 'admin');
      const uses = Object.entries(state.uses).sort(([a, x], [b, y]) => x.reserved_at - y.reserved_at || (a < b ? -1 : a > b ? 1 : 0));
      const data = await Promise.all(
        uses.map(async ([videoId, use]): Promise<AppearanceObject> => {
          // The read model may lag the cameo's stream by a moment (or the video was deleted): the use is still shown.
          const video = await videos.get(videoId);
          return {
            video_id: videoId,
            user_id: use.user_id,
            use_status: use.status,
            blocked_code: use.code ?? null,
            basis: use.basis,
            grant_revision: use.grant_revision,
            reserved_at: use.reserved_at,
            status: video?.status ?? null,
            stage: video?.stage ?? null,
            visibility: video?.visibility ?? null,
          };
        }),
      );
      return { object: 'list' as const, data };
    },
  );

  app.get<{ Params: CameoIdParams; Querystring: ConsentHistoryQuery }>(
    '/v1/cameos/:id/consent-history',
    {
      schema: {
        tags: ['cameos'],
        summary: "The cameo's consent history, every event with its hash, and the chain verified",
        description:
          'For its owner, auditors and admins. `?format=jsonl` (or `Accept: application/x-ndjson`) exports it: one event per line, then `{"chain": ...}`.',
        params: CameoIdParams,
        querystring: ConsentHistoryQuery,
        response: {
          200: {
            description: 'The history (JSON), or its export (NDJSON)',
            content: { 'application/json': { schema: ConsentHistory }, [NDJSON]: { schema: { type: 'string' } } },
          },
          ...notFound,
        },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const { id } = request.params;
      let recorded: RecordedEvent[] = [];
      if (CAMEO_ID.test(id)) {
        try {
          recorded = await eventStore.readStream(cameoStream(id));
        } catch (err) {
          if (!(err instanceof StreamNotFound)) throw err;
        }
      }
      // Access from the registration itself: a tampered later event must not lock the auditors out of seeing it.
      const registered = recorded.find((e) => e.type === 'CameoRegistered')?.data as CameoRegisteredData | undefined;
      if (!registered || (caller.id !== registered.owner_id && !hasRole(caller, 'auditor', 'admin'))) throw cameoNotFound(id);
      const events = recorded.map(toConsentEvent);
      const report = verifyChain(
        events.map((e) => ({ revision: e.revision, type: e.type, data: e.data, prev_hash: e.prev_hash ?? undefined, hash: e.hash ?? undefined })),
      );
      const chain = { valid: report.valid, head_hash: report.head_hash, checked: report.checked, problems: report.problems };
      if (!report.valid) request.log.warn({ cameoId: id, problems: report.problems }, 'cameo consent history fails its hash chain');
      if (wantsNdjson(request)) {
        const lines = [...events.map((e) => JSON.stringify(e)), JSON.stringify({ chain })];
        // A Buffer goes out as is: fastify would otherwise treat the *json media type as JSON to serialize.
        return reply
          .type(NDJSON)
          .header('content-disposition', `attachment; filename="${id}-consent-history.jsonl"`)
          .send(Buffer.from(`${lines.join('\n')}\n`));
      }
      return { events, chain };
    },
  );
};

// Webhook endpoints (API.md "Webhook endpoints"), as the official OpenAI SDKs call them (`client.webhooks.create /
// retrieve / update / list / delete / rotate_secret / test`): per user, in PgWebhookEndpointStore; the signing secret is
// shown at creation and rotation only. A URL is checked against the SSRF rules (infra/webhooks/sender.ts) when it is set
// and again by each send; POST .../test sends one signed sample event and reports the receiver's status.
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { isWebhookEventType, WEBHOOK_EVENT_TYPES, type WebhookEventPayload, type WebhookEventType } from '../../domain/webhooks/eventTypes';
import { checkWebhookUrl, sendWebhook, WebhookSendFailed, WebhookUrlRefused, WEBHOOK_URL_MAX_LENGTH, type WebhookUrlPolicy } from '../../infra/webhooks/sender';
import { signDelivery, signingSecretHint } from '../../infra/webhooks/signing';
import { UnknownEndpointCursor, WEBHOOK_ENDPOINT_ID, type WebhookEndpoint, type WebhookEndpointStore } from '../../infra/webhooks/store';
import type { Client } from '@temporalio/client';
import { deliveryStream, foldDeliveries, type WebhookDelivery, type WebhookDeliveryEvent } from '../../domain/webhooks/deliveries';
import { StreamNotFound } from '../../infra/eventstore/errors';
import type { EventStore, RecordedEvent } from '../../infra/eventstore/port';
import { queueWebhookDelivery } from '../../infra/webhooks/queue';
import { STORABLE_TEXT_PATTERN } from '../../domain/text';
import { callerOf } from '../plugins/auth';
import { contentRefusal, invalidParams, problemResponse, ProblemError } from '../plugins/errors';
import { useStrictJsonBody } from '../plugins/jsonBody';

export interface WebhookEndpointsRoutesOptions {
  store: WebhookEndpointStore;
  /** WEBHOOK_ALLOWED_HOSTS, and the resolver (Node's by default). */
  policy: WebhookUrlPolicy;
  /** How long POST .../test waits for the receiver; 10 s by default. */
  testTimeoutMs?: number;
  /** The deliveries' stream (listed) and the endpoints' workflows (a redelivery is queued there); absent: no such routes. */
  deliveries?: {
    eventStore: EventStore;
    temporal: () => Client;
    /** The orchestration task queue, where the endpoints' workflows run. */
    taskQueue: string;
    retry: { firstSeconds: number; windowSeconds: number };
  };
}

const NAME_MAX_CHARS = 100;

const endpointFields = {
  id: Type.String({ description: '`we_` + 32 hex digits' }),
  object: Type.Literal('webhook_endpoint'),
  name: Type.String(),
  url: Type.String(),
  event_types: Type.Array(Type.String()),
  created_at: Type.Integer({ description: 'Unix seconds' }),
  updated_at: Type.Integer({ description: 'Unix seconds of the last change of the configuration or the secret' }),
  signing_secret_hint: Type.String({ description: '`whsec_...` and the last four characters of the secret' }),
  status: Type.Union([Type.Literal('enabled'), Type.Literal('disabled')], {
    description: '`disabled` once a delivery failed for the whole retry window (WEBHOOK_RETRY_WINDOW_SECONDS); an update enables it again',
  }),
  disabled_reason: Type.Union([Type.String(), Type.Null()], { description: 'Why it was disabled; null while enabled' }),
};
export const WebhookEndpointObject = Type.Object(endpointFields, { title: 'WebhookEndpoint' });
export type WebhookEndpointObject = Static<typeof WebhookEndpointObject>;
export const WebhookEndpointWithSecretObject = Type.Object(
  { ...endpointFields, signing_secret: Type.String({ description: 'The secret (`whsec_` + base64): in this response only' }) },
  { title: 'WebhookEndpointWithSecret' },
);
const WebhookEndpointList = Type.Object(
  {
    object: Type.Literal('list'),
    data: Type.Array(WebhookEndpointObject),
    first_id: Type.Union([Type.String(), Type.Null()]),
    last_id: Type.Union([Type.String(), Type.Null()], { description: 'Pass it as `after` for the next page' }),
    has_more: Type.Boolean(),
  },
  { title: 'WebhookEndpointList' },
);
const DeletedWebhookEndpoint = Type.Object(
  { id: Type.String(), object: Type.Literal('webhook_endpoint.deleted'), deleted: Type.Literal(true) },
  { title: 'DeletedWebhookEndpoint' },
);
const WebhookEndpointTestResult = Type.Object(
  {
    object: Type.Literal('webhook_endpoint.test'),
    webhook_endpoint_id: Type.String(),
    event_type: Type.String(),
    status_code: Type.Integer({ description: "The receiver's HTTP status; a 3xx is reported, never followed" }),
    success: Type.Literal(true, { description: 'Always true: the request was made; status_code says how it was answered' }),
  },
  { title: 'WebhookEndpointTestResult' },
);

const eventTypesSchema = Type.Array(Type.String({ pattern: STORABLE_TEXT_PATTERN }), {
  minItems: 1,
  maxItems: 16,
  description: `Some of ${WEBHOOK_EVENT_TYPES.join(', ')}`,
});
// Free text in the documented form (domain/text.ts): a fuzzer reading the document knows a NUL is not valid.
const nameSchema = Type.String({ minLength: 1, maxLength: NAME_MAX_CHARS, pattern: '^(?=[\\s\\S]*\\S)[^\\u0000]*$' });
const urlSchema = Type.String({
  minLength: 1,
  maxLength: WEBHOOK_URL_MAX_LENGTH,
  pattern: STORABLE_TEXT_PATTERN,
  description: 'https (plain http only for a host WEBHOOK_ALLOWED_HOSTS names)',
});

const CreateBody = Type.Object(
  { name: nameSchema, url: urlSchema, event_types: eventTypesSchema },
  { title: 'CreateWebhookEndpoint', additionalProperties: false },
);
type CreateBody = Static<typeof CreateBody>;
const UpdateBody = Type.Object(
  { name: Type.Optional(nameSchema), url: Type.Optional(urlSchema), event_types: Type.Optional(eventTypesSchema) },
  { title: 'UpdateWebhookEndpoint', additionalProperties: false },
);
type UpdateBody = Static<typeof UpdateBody>;
const RotateBody = Type.Object(
  { keep_old_secret_active_for_24_hours: Type.Optional(Type.Boolean({ default: false })) },
  { title: 'RotateWebhookSecret', additionalProperties: false },
);
type RotateBody = Static<typeof RotateBody>;
const TestBody = Type.Object(
  { event_type: Type.String({ description: `One of ${WEBHOOK_EVENT_TYPES.join(', ')}` }) },
  { title: 'TestWebhookEndpoint', additionalProperties: false },
);
type TestBody = Static<typeof TestBody>;
const IdParams = Type.Object({ id: Type.String({ description: 'The webhook endpoint id, `we_...`' }) });
type IdParams = Static<typeof IdParams>;
const ListQuery = Type.Object({
  after: Type.Optional(Type.String({ description: 'The last id of the previous page' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
});
type ListQuery = Static<typeof ListQuery>;

const notFoundResponse = { 404: problemResponse("No such webhook endpoint, or another user's (`webhook_endpoint_not_found`)") };
const invalidResponse = {
  400: problemResponse('A field fails the schema'),
  422: problemResponse('An event type is not one we send, or named twice (`unprocessable_content`), or the URL is refused (`webhook_url_refused`, naming why)'),
};

export function toEndpointObject(endpoint: WebhookEndpoint): WebhookEndpointObject {
  return {
    id: endpoint.id,
    object: 'webhook_endpoint',
    name: endpoint.name,
    url: endpoint.url,
    event_types: endpoint.eventTypes,
    created_at: endpoint.createdAt,
    updated_at: endpoint.updatedAt,
    signing_secret_hint: signingSecretHint(endpoint.secret),
    status: endpoint.disabledReason === null ? 'enabled' : 'disabled',
    disabled_reason: endpoint.disabledReason,
  };
}

const DeliveryAttemptObject = Type.Object({
  attempt: Type.Integer({ description: 'From 1' }),
  at: Type.Integer({ description: 'Unix seconds' }),
  status_code: Type.Union([Type.Integer(), Type.Null()], { description: "The receiver's HTTP status; null when none came" }),
  latency_ms: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()], { description: 'Why it did not count as delivered; null for a 2xx' }),
});
const DeliveryObject = Type.Object(
  {
    id: Type.String({ description: '`dlv_...`' }),
    object: Type.Literal('webhook_delivery'),
    webhook_id: Type.String({ description: 'The `webhook-id` header: the same on every attempt and on a redelivery' }),
    event_type: Type.String(),
    event_id: Type.String({ description: 'The `id` of the event in the body, `evt_...`' }),
    subject_id: Type.String({ description: 'The video (or cameo) the event is about' }),
    status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
    failure_reason: Type.Union([Type.String(), Type.Null()]),
    redelivery_of: Type.Union([Type.String(), Type.Null()], { description: 'The delivery this one sends again' }),
    created_at: Type.Integer({ description: 'Unix seconds: when it was queued' }),
    ended_at: Type.Union([Type.Integer(), Type.Null()]),
    attempts: Type.Array(DeliveryAttemptObject),
  },
  { title: 'WebhookDelivery' },
);
type DeliveryObject = Static<typeof DeliveryObject>;
const DeliveryList = Type.Object(
  {
    object: Type.Literal('list'),
    data: Type.Array(DeliveryObject),
    first_id: Type.Union([Type.String(), Type.Null()]),
    last_id: Type.Union([Type.String(), Type.Null()]),
    has_more: Type.Boolean(),
  },
  { title: 'WebhookDeliveryList' },
);
const DeliveryParams = Type.Object({ id: Type.String(), delivery_id: Type.String({ description: '`dlv_...`' }) });
type DeliveryParams = Static<typeof DeliveryParams>;
const DeliveryListQuery = Type.Object({
  after: Type.Optional(Type.String({ description: 'The last delivery id of the previous page' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
});
type DeliveryListQuery = Static<typeof DeliveryListQuery>;

function toDeliveryObject(d: WebhookDelivery): DeliveryObject {
  return { ...d, object: 'webhook_delivery' };
}

function notFound(id: string): ProblemError {
  return new ProblemError({ status: 404, code: 'webhook_endpoint_not_found', detail: `no webhook endpoint ${id}` });
}

/** Every event type known and none twice; a 400 naming each value that is not. */
function eventTypesOf(values: string[], field = 'event_types'): WebhookEventType[] {
  const errors: Array<{ field: string; message: string }> = [];
  values.forEach((value, i) => {
    if (!isWebhookEventType(value))
      errors.push(contentRefusal(`${field}/${i}`, `${JSON.stringify(value)} is not an event type; one of ${WEBHOOK_EVENT_TYPES.join(', ')}`));
    else if (values.indexOf(value) !== i) errors.push(contentRefusal(`${field}/${i}`, `${JSON.stringify(value)} is named twice`));
  });
  if (errors.length > 0) throw invalidParams(errors);
  return values as WebhookEventType[];
}

export const webhookEndpointsRoutes: FastifyPluginAsync<WebhookEndpointsRoutesOptions> = async (app, options) => {
  useStrictJsonBody(app);
  const { store, policy } = options;

  /** The URL if the SSRF rules accept it; else a 400 `webhook_url_refused` naming why. */
  async function checkedUrl(url: string): Promise<string> {
    try {
      await checkWebhookUrl(url, policy);
      return url;
    } catch (err) {
      if (err instanceof WebhookUrlRefused) throw urlRefused(err);
      throw err;
    }
  }
  const urlRefused = (err: WebhookUrlRefused) =>
    new ProblemError({ status: 422, code: 'webhook_url_refused', detail: `url: ${err.reason}`, errors: [{ field: 'url', message: err.reason }] });

  app.post<{ Body: CreateBody }>(
    '/v1/webhook_endpoints',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Create a webhook endpoint; its signing secret is in this response only',
        body: CreateBody,
        response: { 200: WebhookEndpointWithSecretObject, ...invalidResponse },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const eventTypes = eventTypesOf(request.body.event_types);
      const url = await checkedUrl(request.body.url);
      const endpoint = await store.create(caller.id, { name: request.body.name, url, eventTypes });
      request.log.info({ webhookEndpointId: endpoint.id }, 'webhook endpoint created');
      return { ...toEndpointObject(endpoint), signing_secret: endpoint.secret };
    },
  );

  app.get<{ Querystring: ListQuery }>(
    '/v1/webhook_endpoints',
    {
      schema: {
        tags: ['webhooks'],
        summary: "List the caller's webhook endpoints, newest first",
        description: 'Keyset pages: pass `last_id` as `after` for the next page.',
        querystring: ListQuery,
        response: {
          200: WebhookEndpointList,
          400: problemResponse('`after` or `limit` is invalid'),
          422: problemResponse("`after` is not one of the caller's webhook endpoints"),
        },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const { after, limit = 20 } = request.query;
      try {
        const page = await store.list(caller.id, { after, limit });
        const data = page.endpoints.map(toEndpointObject);
        return { object: 'list' as const, data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: page.hasMore };
      } catch (err) {
        if (err instanceof UnknownEndpointCursor) throw invalidParams([contentRefusal('after', 'is not one of your webhook endpoints')]);
        throw err;
      }
    },
  );

  async function owned(callerId: string, id: string): Promise<WebhookEndpoint> {
    const endpoint = WEBHOOK_ENDPOINT_ID.test(id) ? await store.get(callerId, id) : undefined;
    if (!endpoint) throw notFound(id);
    return endpoint;
  }

  app.get<{ Params: IdParams }>(
    '/v1/webhook_endpoints/:id',
    { schema: { tags: ['webhooks'], summary: 'Retrieve a webhook endpoint', params: IdParams, response: { 200: WebhookEndpointObject, ...notFoundResponse } } },
    async (request) => toEndpointObject(await owned(callerOf(request).id, request.params.id)),
  );

  app.post<{ Params: IdParams; Body: UpdateBody }>(
    '/v1/webhook_endpoints/:id',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Update a webhook endpoint (name, url, event_types); updated_at advances only when something changes',
        params: IdParams,
        body: UpdateBody,
        response: { 200: WebhookEndpointObject, ...invalidResponse, ...notFoundResponse },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const body = request.body ?? {};
      await owned(caller.id, request.params.id);
      const eventTypes = body.event_types && eventTypesOf(body.event_types);
      const url = body.url === undefined ? undefined : await checkedUrl(body.url);
      const endpoint = await store.update(caller.id, request.params.id, {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(url !== undefined ? { url } : {}),
        ...(eventTypes ? { eventTypes } : {}),
      });
      if (!endpoint) throw notFound(request.params.id);
      return toEndpointObject(endpoint);
    },
  );

  app.delete<{ Params: IdParams }>(
    '/v1/webhook_endpoints/:id',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Delete a webhook endpoint and its secrets',
        params: IdParams,
        response: { 200: DeletedWebhookEndpoint, ...notFoundResponse },
      },
    },
    async (request) => {
      const { id } = request.params;
      if (!WEBHOOK_ENDPOINT_ID.test(id) || !(await store.delete(callerOf(request).id, id))) throw notFound(id);
      return { id, object: 'webhook_endpoint.deleted' as const, deleted: true as const };
    },
  );

  app.post<{ Params: IdParams; Body: RotateBody }>(
    '/v1/webhook_endpoints/:id/rotate_secret',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Replace the signing secret; the new one is in this response only',
        description: 'With `keep_old_secret_active_for_24_hours`, deliveries are signed with both secrets for 24 hours.',
        params: IdParams,
        body: RotateBody,
        response: { 200: WebhookEndpointWithSecretObject, ...notFoundResponse },
      },
    },
    async (request) => {
      const { id } = request.params;
      const caller = callerOf(request);
      await owned(caller.id, id);
      const endpoint = await store.rotateSecret(caller.id, id, request.body?.keep_old_secret_active_for_24_hours ?? false);
      if (!endpoint) throw notFound(id);
      request.log.info({ webhookEndpointId: id }, 'webhook signing secret rotated');
      return { ...toEndpointObject(endpoint), signing_secret: endpoint.secret };
    },
  );

  app.post<{ Params: IdParams; Body: TestBody }>(
    '/v1/webhook_endpoints/:id/test',
    {
      schema: {
        tags: ['webhooks'],
        summary: "Send one signed sample event to the endpoint now and report the receiver's status",
        params: IdParams,
        body: TestBody,
        response: {
          200: WebhookEndpointTestResult,
          ...invalidResponse,
          ...notFoundResponse,
          502: problemResponse('The receiver could not be reached (`webhook_endpoint_unreachable`)'),
          504: problemResponse('The receiver did not answer within 10 s (`webhook_endpoint_timeout`)'),
        },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const endpoint = await owned(caller.id, request.params.id);
      const [eventType] = eventTypesOf([request.body.event_type], 'event_type');
      const payload = sampleEvent(eventType!);
      const body = JSON.stringify(payload);
      const headers = signDelivery({
        id: `msg_${randomBytes(16).toString('hex')}`,
        timestamp: Math.floor(Date.now() / 1000),
        body,
        secrets: await store.signingSecrets(endpoint.id),
      });
      try {
        const response = await sendWebhook({ url: endpoint.url, body, headers: { ...headers }, policy, timeoutMs: options.testTimeoutMs });
        return {
          object: 'webhook_endpoint.test' as const,
          webhook_endpoint_id: endpoint.id,
          event_type: eventType!,
          status_code: response.statusCode,
          success: true as const,
        };
      } catch (err) {
        if (err instanceof WebhookUrlRefused) throw urlRefused(err);
        if (err instanceof WebhookSendFailed) {
          throw err.timedOut
            ? new ProblemError({ status: 504, code: 'webhook_endpoint_timeout', detail: `the webhook endpoint did not answer: ${err.reason}` })
            : new ProblemError({ status: 502, code: 'webhook_endpoint_unreachable', detail: `the webhook endpoint could not be reached: ${err.reason}` });
        }
        throw err;
      }
    },
  );

  if (!options.deliveries) return;
  const deliveries = options.deliveries;
  /** The endpoint's deliveries, newest first. */
  async function deliveriesOf(endpointId: string): Promise<WebhookDelivery[]> {
    let events: RecordedEvent[];
    try {
      events = await deliveries.eventStore.readStream(deliveryStream(endpointId));
    } catch (err) {
      if (err instanceof StreamNotFound) return [];
      throw err;
    }
    return foldDeliveries(events as unknown as WebhookDeliveryEvent[]).reverse();
  }

  app.get<{ Params: IdParams; Querystring: DeliveryListQuery }>(
    '/v1/webhook_endpoints/:id/deliveries',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'List the deliveries to an endpoint, newest first, each with every attempt',
        params: IdParams,
        querystring: DeliveryListQuery,
        response: { 200: DeliveryList, 422: problemResponse('`after` is not a delivery of this endpoint'), ...notFoundResponse },
      },
    },
    async (request) => {
      const endpoint = await owned(callerOf(request).id, request.params.id);
      const all = await deliveriesOf(endpoint.id);
      const limit = request.query.limit ?? 20;
      let from = 0;
      if (request.query.after !== undefined) {
        const at = all.findIndex((d) => d.id === request.query.after);
        if (at < 0) throw invalidParams([contentRefusal('after', `${JSON.stringify(request.query.after)} is not a delivery of this endpoint`)]);
        from = at + 1;
      }
      const page = all.slice(from, from + limit);
      return {
        object: 'list' as const,
        data: page.map(toDeliveryObject),
        first_id: page[0]?.id ?? null,
        last_id: page.at(-1)?.id ?? null,
        has_more: from + limit < all.length,
      };
    },
  );

  app.post<{ Params: DeliveryParams }>(
    '/v1/webhook_endpoints/:id/deliveries/:delivery_id/redeliver',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Send a delivery again (same body and webhook-id), after the ones queued before it',
        params: DeliveryParams,
        response: {
          202: DeliveryObject,
          ...notFoundResponse,
          404: problemResponse('No such endpoint of yours (`webhook_endpoint_not_found`) or no such delivery of it (`webhook_delivery_not_found`)'),
        },
      },
    },
    async (request, reply) => {
      const endpoint = await owned(callerOf(request).id, request.params.id);
      const original = (await deliveriesOf(endpoint.id)).find((d) => d.id === request.params.delivery_id);
      if (!original) {
        throw new ProblemError({ status: 404, code: 'webhook_delivery_not_found', detail: `no delivery ${request.params.delivery_id} of ${endpoint.id}` });
      }
      const events = await deliveries.eventStore.readStream(deliveryStream(endpoint.id));
      const queued = (events as unknown as WebhookDeliveryEvent[]).find(
        (e) => e.type === 'WebhookDeliveryQueued' && e.data.delivery_id === original.id,
      ) as Extract<WebhookDeliveryEvent, { type: 'WebhookDeliveryQueued' }>;
      const deliveryId = `dlv_${randomBytes(32).toString('hex')}`;
      await queueWebhookDelivery(deliveries.temporal(), {
        taskQueue: deliveries.taskQueue,
        endpointId: endpoint.id,
        retry: deliveries.retry,
        delivery: { deliveryId, webhookId: original.webhook_id, eventType: original.event_type, body: queued.data.body, redeliveryOf: original.id },
      });
      request.log.info({ webhookEndpointId: endpoint.id, deliveryId, redeliveryOf: original.id }, 'webhook redelivery queued');
      reply.code(202);
      return toDeliveryObject({
        ...original,
        id: deliveryId,
        status: 'pending',
        failure_reason: null,
        redelivery_of: original.id,
        created_at: Math.floor(Date.now() / 1000),
        ended_at: null,
        attempts: [],
      });
    },
  );
};

/** A sample event of `type`, about a made-up video or cameo id. */
export function sampleEvent(type: WebhookEventType): WebhookEventPayload {
  const subject = type.startsWith('cameo.') ? 'cameo' : 'video';
  return {
    id: `evt_${randomBytes(16).toString('hex')}`,
    object: 'event',
    type,
    created_at: Math.floor(Date.now() / 1000),
    data: { id: `${subject}_${randomBytes(16).toString('hex')}` },
  };
}

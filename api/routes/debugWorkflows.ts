// GET /v1/debug/workflows/:workflow_id/history and POST /v1/debug/workflows/:workflow_id/replay (API.md "Debugging"):
// a workflow's Temporal history as the JSON Temporal's own tools read, and that history (or one uploaded, say from
// production) replayed against this build's workflow code, which tells whether deploying the build would break it.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { History } from '@temporalio/common/lib/proto-utils';
import { fetchHistoryJson, NotAHistoryError, parseHistory, replayHistory, WorkflowHistoryNotFoundError } from '../../infra/temporal/replay';
import { problemResponse } from '../plugins/auth';
import { ProblemError } from '../plugins/errors';
import type { DebugRoutesOptions } from './debug';

/**
 * Histories of long jobs (hundreds of chunks, each a few activities) pass fastify's 2 MiB default; this route alone
 * takes more, and only from admins (the parent's hook answers anyone else before the body is read).
 */
export const REPLAY_BODY_LIMIT_BYTES = 32 * 1024 * 1024;

const WorkflowIdParams = Type.Object({
  workflow_id: Type.String({ minLength: 1, description: 'The workflow id, e.g. `video-video_…` for a generation' }),
});
type WorkflowIdParams = Static<typeof WorkflowIdParams>;

const HistoryJson = Type.Object(
  { events: Type.Array(Type.Unknown(), { description: 'History events, oldest first; the first is WorkflowExecutionStarted' }) },
  {
    additionalProperties: true,
    title: 'WorkflowHistory',
    description: 'A Temporal workflow history as proto3 JSON: what `temporal workflow show --output json` prints and the Web UI downloads',
  },
);

const ReplayBody = Type.Object(
  {
    history: Type.Optional(
      Type.Unknown({ description: 'A workflow history JSON (see WorkflowHistory) to replay instead of the one Temporal holds for the id' }),
    ),
  },
  { description: 'Optional: without a body (or without `history`) the history Temporal holds for the id is replayed' },
);
type ReplayBody = Static<typeof ReplayBody>;

const ReplayReport = Type.Object(
  {
    deterministic: Type.Boolean({ description: 'Whether this build reproduces the commands the history recorded' }),
    workflow_type: Type.String(),
    workflow_id: Type.String(),
    events_replayed: Type.Integer({ description: 'All the events when deterministic; else those before the one that differed' }),
    error: Type.Union([Type.String(), Type.Null()], { description: 'Null when deterministic; else which command differed from which event, and what to do' }),
  },
  { title: 'ReplayReport' },
);

/** The uploaded history, checked; what is wrong with it is the sender's to fix, so a 400 saying what. */
function uploaded(value: unknown): History {
  try {
    return parseHistory(value);
  } catch (err) {
    if (err instanceof NotAHistoryError) throw new ProblemError({ status: 400, code: 'invalid_history', param: 'history', detail: `history: ${err.reason}` });
    throw err;
  }
}

function workflowNotFound(workflowId: string): ProblemError {
  return new ProblemError({ status: 404, code: 'workflow_not_found', detail: `no workflow with id ${workflowId}` });
}

export const debugWorkflowsRoutes: FastifyPluginAsync<DebugRoutesOptions> = async (app, options) => {
  /** The latest run's history as JSON; a missing workflow is a 404, a Temporal that does not answer a 503. */
  async function historyOf(request: FastifyRequest, workflowId: string): Promise<unknown> {
    try {
      return await fetchHistoryJson(options.temporal.client, workflowId);
    } catch (err) {
      if (err instanceof WorkflowHistoryNotFoundError) throw workflowNotFound(workflowId);
      // The cause stays in the log (as for every 5xx); the caller learns it may retry.
      request.log.error({ err, workflowId }, 'workflow history not read');
      throw new ProblemError({ status: 503, code: 'temporal_unavailable', detail: `the history of ${workflowId} could not be read from Temporal now; retry` });
    }
  }

  app.get<{ Params: WorkflowIdParams }>(
    '/v1/debug/workflows/:workflow_id/history',
    {
      schema: {
        tags: ['debug'],
        summary: "A workflow's Temporal history (admin)",
        description: "The latest run's whole history, in the JSON Temporal's CLI, Web UI and replayer read and write.",
        params: WorkflowIdParams,
        response: {
          200: HistoryJson,
          404: problemResponse('No workflow with that id (`workflow_not_found`)'),
          503: problemResponse('Temporal did not answer (`temporal_unavailable`)'),
        },
      },
    },
    async (request) => historyOf(request, request.params.workflow_id),
  );

  app.post<{ Params: WorkflowIdParams; Body: ReplayBody }>(
    '/v1/debug/workflows/:workflow_id/replay',
    {
      bodyLimit: REPLAY_BODY_LIMIT_BYTES,
      // The body is optional, but fastify validates a missing one against the schema ("body must be object"): no
      // body is taken as the empty one.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
      schema: {
        tags: ['debug'],
        summary: "Replay a workflow's history against this build (admin)",
        description:
          "Replays the workflow's history, or the history in the body when one is sent (e.g. one exported from production), against the workflow code of this build. `deterministic: false` means running workflows like it would fail on this build; `error` says which command differed from which event.",
        params: WorkflowIdParams,
        body: ReplayBody,
        response: {
          200: ReplayReport,
          400: problemResponse("The body's `history` is not a Temporal history (`invalid_history`); the detail says why"),
          404: problemResponse('No history uploaded, and no workflow with that id (`workflow_not_found`)'),
          503: problemResponse('No history uploaded, and Temporal did not answer (`temporal_unavailable`)'),
        },
      },
    },
    async (request) => {
      const { workflow_id: workflowId } = request.params;
      const history = 'history' in request.body ? uploaded(request.body.history) : parseHistory(await historyOf(request, workflowId));
      return replayHistory(history, await options.workflowCode(), workflowId);
    },
  );
};

// Workflow histories for debugging: fetched from Temporal as the JSON its own tools read and write (`temporal workflow
// show --output json`, the Web UI's download), checked before use, and replayed against the workflow code of this
// build, which is how a change that would break running workflows (non-determinism) is found before it is deployed.
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { historyFromJSON, historyToJSON, type History } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';

/** Something given as a history that is not one; `reason` says what is wrong in words for the person who sent it. */
export class NotAHistoryError extends Error {
  constructor(readonly reason: string) {
    super(`not a Temporal workflow history: ${reason}`);
    this.name = 'NotAHistoryError';
  }
}

/** No workflow with that id exists in the namespace (or its history is gone). */
export class WorkflowHistoryNotFoundError extends Error {
  constructor(readonly workflowId: string) {
    super(`no workflow with id ${workflowId}`);
    this.name = 'WorkflowHistoryNotFoundError';
  }
}

export interface ReplayReport {
  deterministic: boolean;
  workflow_type: string;
  /** The workflow id the history was replayed as. */
  workflow_id: string;
  /** History events the replay went through: all of them when deterministic, else up to the one that differed. */
  events_replayed: number;
  /** Null when deterministic; else what differed, in words a person can act on. */
  error: string | null;
}

/** The workflow code to replay against: a prebuilt bundle (tests, the API once it built one) or the workflows' source. */
export type WorkflowCode = Pick<ReplayWorkerOptions, 'workflowBundle' | 'workflowsPath'>;

const START_EVENT = 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED';

/** The latest run's whole history as Temporal's JSON (proto3 JSON, camelCase fields, enum names as strings). */
export async function fetchHistoryJson(client: Client, workflowId: string): Promise<unknown> {
  try {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    return JSON.parse(historyToJSON(history)) as unknown;
  } catch (err) {
    if (isNotFound(err)) throw new WorkflowHistoryNotFoundError(workflowId);
    throw err;
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; code?: number; cause?: { code?: number } };
  return e?.name === 'WorkflowNotFoundError' || e?.code === 5 || e?.cause?.code === 5;
}

/**
 * Parses a history given as JSON text or as the parsed value, and checks that it is one: an object with a non-empty
 * `events` list whose first event starts a workflow execution and names its type. Throws NotAHistoryError saying why.
 */
export function parseHistory(input: unknown): History {
  let value = input;
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    try {
      value = JSON.parse(input.toString());
    } catch (err) {
      throw new NotAHistoryError(`the file is not JSON (${(err as Error).message})`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new NotAHistoryError('expected a JSON object with an "events" list');
  const events = (value as { events?: unknown }).events;
  if (!Array.isArray(events)) throw new NotAHistoryError('it has no "events" list');
  if (events.length === 0) throw new NotAHistoryError('its "events" list is empty');
  events.forEach((event, i) => {
    if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new NotAHistoryError(`event ${i + 1} is not an object`);
    if (!Object.keys(event).some((k) => k.endsWith('EventAttributes'))) {
      throw new NotAHistoryError(`event ${i + 1} has no "...EventAttributes" field, so it is not a Temporal history event`);
    }
  });
  let history: History;
  try {
    history = historyFromJSON(value);
  } catch (err) {
    throw new NotAHistoryError(`it does not decode as a history (${(err as Error).message})`);
  }
  const first = history.events?.[0];
  if (eventTypeName(first?.eventType) !== START_EVENT || !first?.workflowExecutionStartedEventAttributes?.workflowType?.name) {
    throw new NotAHistoryError(`its first event is ${eventTypeName(first?.eventType) ?? 'of no type'}, not WorkflowExecutionStarted with a workflow type`);
  }
  return history;
}

/** The workflow type a history's first event started. */
export function workflowTypeOf(history: History): string {
  return history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? 'unknown';
}

/** The event type as its enum name (histories decoded from JSON carry numbers). */
function eventTypeName(type: unknown): string | undefined {
  if (type === undefined || type === null) return undefined;
  if (typeof type === 'string') return type;
  return temporal.api.enums.v1.EventType[type as number];
}

/** "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED" → "ActivityTaskScheduled". */
function readableEventType(type: unknown): string {
  const name = eventTypeName(type) ?? 'unknown';
  return name
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}

/**
 * Replays a history against `code`. A history the code does not reproduce (another command than the one recorded,
 * a command missing or extra) comes back as `deterministic: false` with the error explained; a history that cannot
 * be replayed at all (the workflow type is not in the code) also comes back as not deterministic, with that reason.
 */
export async function replayHistory(history: History, code: WorkflowCode, workflowId = 'replay'): Promise<ReplayReport> {
  const workflowType = workflowTypeOf(history);
  const total = history.events?.length ?? 0;
  try {
    await Worker.runReplayHistory({ ...code, replayName: `replay-${workflowType}` }, history, workflowId);
    return { deterministic: true, workflow_type: workflowType, workflow_id: workflowId, events_replayed: total, error: null };
  } catch (err) {
    const message = (err as Error)?.message ?? String(err);
    const eventId = failedEventId(message);
    return {
      deterministic: false,
      workflow_type: workflowType,
      workflow_id: workflowId,
      events_replayed: eventId ? Math.max(0, eventId - 1) : total,
      error: explain(history, message, eventId),
    };
  }
}

/** The id of the history event a non-determinism error names, when it names one. */
function failedEventId(message: string): number | undefined {
  const m = /HistoryEvent\(id: (\d+)/.exec(message) ?? /event (?:id )?(\d+)/i.exec(message);
  return m ? Number(m[1]) : undefined;
}

/** The SDK's message, with the history event it refers to and what to do about it. */
function explain(history: History, message: string, eventId: number | undefined): string {
  const parts = [message.replace(/\s+/g, ' ').trim()];
  const event = eventId ? history.events?.find((e) => Number(e.eventId) === eventId) : undefined;
  if (event) parts.push(`History event ${eventId} is ${readableEventType(event.eventType)}${describeEvent(event)}.`);
  if (/nondetermin/i.test(message)) {
    parts.push(
      'The workflow code now issues different commands than the ones this history recorded: guard the change with patched() (see the README, "Changing a workflow safely") or give the new behaviour a new workflow type.',
    );
  }
  return parts.join(' ');
}

function describeEvent(event: NonNullable<History['events']>[number]): string {
  const activity = event.activityTaskScheduledEventAttributes?.activityType?.name;
  if (activity) return ` of activity ${activity}`;
  const child = event.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name;
  if (child) return ` of child workflow ${child}`;
  const marker = event.markerRecordedEventAttributes?.markerName;
  if (marker) return ` (marker ${marker})`;
  const timer = event.timerStartedEventAttributes?.timerId;
  if (timer) return ` (timer ${timer})`;
  const signal = event.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName;
  if (signal) return ` (signal ${signal})`;
  return '';
}

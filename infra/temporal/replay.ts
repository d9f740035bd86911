// Workflow histories for debugging: fetched from Temporal as the JSON its own tools read and write (`temporal workflow
// show --output json`, the Web UI's download), checked before use, and replayed against the workflow code of this
// build, which is how a change that would break running workflows (non-determinism) is found before it is deployed.
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
// These convert with @temporalio/common's protobufjs the types of @temporalio/proto, so both must resolve the same
// protobufjs: package.json's overrides keep one copy in the install (with two, every history fails: "type must be a Type").
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
    const message = sdkMessage((err as Error)?.message ?? String(err));
    const eventId = failedEventId(message) ?? (/nondetermin/i.test(message) ? await divergentEventId(history, code, workflowId, message) : undefined);
    return {
      deterministic: false,
      workflow_type: workflowType,
      workflow_id: workflowId,
      events_replayed: eventId ? Math.max(0, eventId - 1) : total,
      error: explain(history, message, eventId),
    };
  }
}

/**
 * The SDK's error without its wrapping: core reports a non-determinism as a Rust debug print
 * (`Workflow activation completion failed: Failure { failure: Some(Failure { message: "[TMPRL1100] ..." ...`), whose
 * only useful part is the inner message.
 */
function sdkMessage(raw: string): string {
  const inner = /message: "((?:[^"\\]|\\.)*)"/.exec(raw)?.[1];
  if (!inner) return raw.replace(/\s+/g, ' ').trim();
  return `${/nondetermin/i.test(raw) && !/nondetermin/i.test(inner) ? 'Nondeterminism error: ' : ''}${inner.replace(/\\"/g, '"')}`;
}

/** The id of the history event a non-determinism error names, when it names one. */
function failedEventId(message: string): number | undefined {
  const m = /HistoryEvent\(id: (\d+)/.exec(message) ?? /event (?:id )?(\d+)/i.exec(message);
  return m ? Number(m[1]) : undefined;
}

/**
 * Where a history stops replaying, for the errors that do not say (core's "Activity type of scheduled event 'a' does
 * not match activity type of activity command 'b'" names no event): the history cut after the commands of ever more
 * workflow tasks is replayed (bisecting), which finds the first workflow task whose commands differ; the event is the
 * first of that task's command events the message names (by activity, timer or child workflow), else its first.
 */
async function divergentEventId(history: History, code: WorkflowCode, workflowId: string, message: string): Promise<number | undefined> {
  const events = history.events ?? [];
  // Cut before each WorkflowTaskScheduled after the first completed workflow task: the prefix then ends with a
  // workflow task's commands and what followed them. (A prefix with no completed workflow task never finishes replaying.)
  const firstCompleted = events.findIndex((e) => eventTypeName(e.eventType) === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED');
  if (firstCompleted < 0) return undefined;
  const cuts = events.flatMap((e, i) => (i > firstCompleted && eventTypeName(e.eventType) === 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED' ? [i] : []));
  cuts.push(events.length);
  // A cut that never finishes replaying (a shape not foreseen above) must not hold the report: past the deadline the
  // search gives up and the report names no event.
  const deadline = Date.now() + LOCATE_DEADLINE_MS;
  const replays = async (n: number): Promise<boolean> => {
    const replay = Worker.runReplayHistory({ ...code, replayName: 'replay-locate' }, { events: events.slice(0, n) }, workflowId).then(
      () => true,
      () => false,
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new LocateTimeout()), Math.max(0, deadline - Date.now()));
    });
    try {
      return await Promise.race([replay, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  // The smallest cut that fails; the whole history fails, so there is one.
  let lo = 0;
  let hi = cuts.length - 1;
  try {
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (await replays(cuts[mid]!)) lo = mid + 1;
      else hi = mid;
    }
  } catch (err) {
    if (err instanceof LocateTimeout) return undefined;
    throw err;
  }
  const end = cuts[lo]!;
  const start = lo > 0 ? cuts[lo - 1]! : 0;
  const lastTaskCompleted = events
    .slice(start, end)
    .reverse()
    .find((e) => eventTypeName(e.eventType) === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED');
  const from = lastTaskCompleted ? Number(lastTaskCompleted.eventId) : start;
  const commands = events.slice(start, end).filter((e) => Number(e.eventId) > from);
  const named = [...message.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
  const match = commands.find((e) => named.includes(commandName(e) ?? ''));
  const event = match ?? commands[0];
  return event ? Number(event.eventId) : undefined;
}

/** How long the search for the diverging event may take in all. */
const LOCATE_DEADLINE_MS = 30_000;

class LocateTimeout extends Error {}

/** The SDK's message, with the history event it refers to and what to do about it. */
function explain(history: History, message: string, eventId: number | undefined): string {
  const parts = [message.endsWith('.') ? message : `${message}.`];
  const event = eventId ? history.events?.find((e) => Number(e.eventId) === eventId) : undefined;
  if (event) parts.push(`History event ${eventId} is ${readableEventType(event.eventType)}${describeEvent(event)}.`);
  if (/nondetermin/i.test(message)) {
    parts.push(
      'The workflow code now issues different commands than the ones this history recorded: guard the change with patched() (see the README, "Changing a workflow safely") or give the new behaviour a new workflow type.',
    );
  }
  return parts.join(' ');
}

/** What a command event names: its activity type, child workflow type, timer id, marker or signal name. */
function commandName(event: NonNullable<History['events']>[number]): string | undefined {
  return (
    event.activityTaskScheduledEventAttributes?.activityType?.name ??
    event.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name ??
    event.timerStartedEventAttributes?.timerId ??
    event.markerRecordedEventAttributes?.markerName ??
    event.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName ??
    undefined
  );
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

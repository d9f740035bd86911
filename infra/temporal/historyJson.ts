// Workflow histories to and from the JSON Temporal's tools read and write (proto3 JSON: camelCase fields, enum names
// as strings, int64 as strings), as @temporalio/common/lib/proto-utils does it, with the protobufjs copy the history
// types were built with. In this install @temporalio/common and @temporalio/proto each carry their own protobufjs
// 8.x; proto-utils passes @temporalio/proto's types to @temporalio/common's protojson, whose `instanceof Type` check
// then fails ("type must be a Type") for every history, both ways.
import { createRequire } from 'node:module';
import type { History } from '@temporalio/common/lib/proto-utils';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}

// The protojson extension of the protobufjs that @temporalio/proto itself resolves, so its Type is the types' Type.
const protojson = createRequire(require.resolve('@temporalio/proto'))('protobufjs/ext/protojson') as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType('temporal.api.history.v1.History');

/** A history (as the client's fetchHistory() returns it) as Temporal's JSON text, pretty-printed. */
export function historyToJSON(history: History): string {
  return JSON.stringify(protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history)), null, 2);
}

/**
 * Temporal's JSON of a history as a History. Enum values are taken in either spelling the tools have written
 * (`EVENT_TYPE_WORKFLOW_EXECUTION_STARTED` or `WorkflowExecutionStarted`), as proto-utils' historyFromJSON takes them.
 */
export function historyFromJSON(history: unknown): History {
  if (typeof history !== 'object' || history === null || !Array.isArray((history as { events?: unknown }).events)) {
    throw new TypeError('Invalid history, expected an object with an array of events');
  }
  const events = (history as { events: Record<string, unknown>[] }).events.map(fixEvent);
  const loaded = protojson.fromJson(historyType, { events }, { ignoreUnknownFields: true });
  if (loaded === null) throw new TypeError('Invalid history');
  return loaded as History;
}

type Json = Record<string, unknown>;

const constantCase = (s: string) => s.replace(/[^\b][A-Z]/g, (m) => `${m[0]}_${m[1]}`).toUpperCase();

function fixEnum(obj: Json | undefined, attr: string, prefix: string): Json {
  const value = obj?.[attr];
  if (typeof value !== 'string') return {};
  return { [attr]: value.startsWith(prefix) ? value : `${prefix}_${constantCase(value)}` };
}

function fixEvent(event: Json): Json {
  const key = Object.keys(event).find((k) => k.endsWith('EventAttributes'));
  if (!key) throw new TypeError(`Missing attributes in history event: ${JSON.stringify(event)}`);
  const attributes = event[key] as Json;
  const taskQueue = attributes.taskQueue as Json | undefined;
  const childFailure = attributes.childWorkflowExecutionFailureInfo as Json | undefined;
  return {
    ...event,
    ...fixEnum(event, 'eventType', 'EVENT_TYPE'),
    [key]: {
      ...attributes,
      ...(taskQueue ? { taskQueue: { ...taskQueue, ...fixEnum(taskQueue, 'kind', 'TASK_QUEUE_KIND') } } : {}),
      ...fixEnum(attributes, 'parentClosePolicy', 'PARENT_CLOSE_POLICY'),
      ...fixEnum(attributes, 'workflowIdReusePolicy', 'WORKFLOW_ID_REUSE_POLICY'),
      ...fixEnum(attributes, 'initiator', 'CONTINUE_AS_NEW_INITIATOR'),
      ...fixEnum(attributes, 'retryState', 'RETRY_STATE'),
      ...(childFailure ? { childWorkflowExecutionFailureInfo: { ...childFailure, ...fixEnum(childFailure, 'retryState', 'RETRY_STATE') } } : {}),
    },
  };
}

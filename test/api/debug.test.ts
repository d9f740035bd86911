// Workflow histories and their replay over HTTP against the real stack, and `npm run replay`: one real video is made
// through the API, then its generationWorkflow history is exported, replayed (from Temporal and uploaded) and checked
// to be deterministic against this build; bad input and callers who are not admins get what API.md promises.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseHistory } from '../../infra/temporal/replay';
import { readTools } from '../../infra/tools';
import type { Role } from '../../infra/users/port';
import { startApiStack } from '../support/apiStack';
import { eventually, testEnv } from '../support/env';
import { runScript } from '../support/processes';
import type { Problem } from '../../api/plugins/errors';

interface HistoryJson {
  events: Array<{ eventId: string; eventType: string; workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }>;
}
interface ReplayReport {
  deterministic: boolean;
  workflow_type: string;
  workflow_id: string;
  events_replayed: number;
  error: string | null;
}

const execFileAsync = promisify(execFile);

type Who = 'admin' | 'alice' | 'moderator' | 'auditor';
let stack: Awaited<ReturnType<typeof startApiStack>>;
const keys = {} as Record<Who, string>;
/** The generation workflow of the one video this file makes, and its history once it completed. */
let workflowId: string;
let history: HistoryJson;
let tmp: string;

function call(who: Who | null, method: string, route: string, json?: unknown): Promise<Response> {
  return fetch(`${stack.url}${route}`, {
    method,
    headers: { ...(who ? { authorization: `Bearer ${keys[who]}` } : {}), ...(json !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: json !== undefined ? JSON.stringify(json) : undefined,
  });
}

async function answer<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect({ status: res.status, text }).toEqual({ status, text: expect.any(String) });
  return JSON.parse(text) as T;
}

const historyRoute = (id: string) => `/v1/debug/workflows/${encodeURIComponent(id)}/history`;
const replayRoute = (id: string) => `/v1/debug/workflows/${encodeURIComponent(id)}/replay`;

beforeAll(async () => {
  stack = await startApiStack();
  tmp = fs.mkdtempSync(path.join(testEnv.tmpDir, 'debug-'));
  const roles: Record<Who, Role> = { admin: 'admin', alice: 'user', moderator: 'moderator', auditor: 'auditor' };
  for (const [who, role] of Object.entries(roles) as Array<[Who, Role]>) keys[who] = (await stack.user(who, role)).apiKey;

  // The smallest video the API takes: one second at 256x256, rendered for real.
  const video = await answer<{ id: string }>(
    await call('alice', 'POST', '/v1/videos', { prompt: 'three red balls bouncing', seconds: 1, size: '256x256' }),
    200,
  );
  workflowId = `video-${video.id}`;
  // The read model says completed a moment before the workflow returns: wait for the whole history.
  history = await eventually(
    async () => {
      const res = await call('admin', 'GET', historyRoute(workflowId));
      if (res.status !== 200) return undefined;
      const json = (await res.json()) as HistoryJson;
      return json.events.at(-1)?.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED' ? json : undefined;
    },
    `generation workflow ${workflowId} to complete`,
    60000,
    200,
  );
}, 90000);

afterAll(async () => {
  await stack?.stop();
});

describe('GET /v1/debug/workflows/:workflow_id/history', () => {
  it("answers the generation's whole history in Temporal's JSON, which the history parser accepts", () => {
    expect(history.events[0]).toMatchObject({
      eventId: '1',
      eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED',
      workflowExecutionStartedEventAttributes: { workflowType: { name: 'generationWorkflow' } },
    });
    expect(history.events.map((e) => e.eventType)).toContain('EVENT_TYPE_ACTIVITY_TASK_COMPLETED');
    expect(history.events.map((e) => Number(e.eventId))).toEqual(history.events.map((_, i) => i + 1));
    expect(parseHistory(history).events).toHaveLength(history.events.length);
  });

  it("is the JSON Temporal's own CLI writes: `temporal workflow show --output json` gives the same events, and its file replays", async () => {
    const cli = readTools().temporalCli.path;
    if (!cli) throw new Error('the bootstrap provisioned no Temporal CLI (.tools/tools.json)');
    const { stdout } = await execFileAsync(
      cli,
      ['workflow', 'show', '--workflow-id', workflowId, '--address', testEnv.temporalAddress, '--namespace', 'default', '--output', 'json'],
      {
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    const fromCli = JSON.parse(stdout) as HistoryJson;
    expect(fromCli.events.map((e) => [e.eventId, e.eventType])).toEqual(history.events.map((e) => [e.eventId, e.eventType]));
    const report = await answer<ReplayReport>(await call('admin', 'POST', replayRoute(workflowId), { history: fromCli }), 200);
    expect(report).toMatchObject({ deterministic: true, workflow_type: 'generationWorkflow', events_replayed: fromCli.events.length });
  });

  it('answers 404 workflow_not_found naming an unknown workflow id', async () => {
    const problem = await answer<Problem>(await call('admin', 'GET', historyRoute('video-no-such-workflow')), 404);
    expect(problem).toMatchObject({ status: 404, error: { code: 'workflow_not_found' } });
    expect(problem.detail).toContain('video-no-such-workflow');
  });
});

describe('POST /v1/debug/workflows/:workflow_id/replay', () => {
  it("replays the workflow's history against this build: deterministic, every event replayed", async () => {
    const report = await answer<ReplayReport>(await call('admin', 'POST', replayRoute(workflowId)), 200);
    expect(report).toEqual({
      deterministic: true,
      workflow_type: 'generationWorkflow',
      workflow_id: workflowId,
      events_replayed: history.events.length,
      error: null,
    });
  });

  it('replays an uploaded history instead, under any id (one exported from another deployment)', async () => {
    const report = await answer<ReplayReport>(await call('admin', 'POST', replayRoute('from-production'), { history }), 200);
    expect(report).toEqual({
      deterministic: true,
      workflow_type: 'generationWorkflow',
      workflow_id: 'from-production',
      events_replayed: history.events.length,
      error: null,
    });
  });

  it("takes uploaded histories past the server's 2 MiB body limit", async () => {
    // A long job's history runs to megabytes; here the size comes from a field the history format ignores.
    const large = { ...history, padding: 'x'.repeat(3 * 1024 * 1024) };
    const report = await answer<ReplayReport>(await call('admin', 'POST', replayRoute(workflowId), { history: large }), 200);
    expect(report).toMatchObject({ deterministic: true, events_replayed: history.events.length });
  });

  it('reports a history this build does not reproduce as not deterministic, naming the command and the event', async () => {
    // As if an older build had scheduled another activity first: this build's first command no longer matches it.
    const altered = JSON.parse(JSON.stringify(history)) as {
      events: Array<{ eventId: string; activityTaskScheduledEventAttributes?: { activityType: { name: string } } }>;
    };
    const event = altered.events.find((e) => e.activityTaskScheduledEventAttributes)!;
    const scheduled = event.activityTaskScheduledEventAttributes!;
    const current = scheduled.activityType.name;
    scheduled.activityType.name = 'renamedActivity';
    const report = await answer<ReplayReport>(await call('admin', 'POST', replayRoute(workflowId), { history: altered }), 200);
    expect(report).toMatchObject({
      deterministic: false,
      workflow_type: 'generationWorkflow',
      workflow_id: workflowId,
      // The events before the one that differed.
      events_replayed: Number(event.eventId) - 1,
      error: expect.stringContaining('Nondeterminism'),
    });
    expect(report.error).toContain(`scheduled event 'renamedActivity' does not match activity type of activity command '${current}'`);
    expect(report.error).toContain('patched()');
  });

  it('answers 400 invalid_history with the reason when the uploaded history is not one', async () => {
    const cases: Array<[unknown, string]> = [
      [{ events: [] }, 'its "events" list is empty'],
      [{ foo: 1 }, 'it has no "events" list'],
      [[1, 2], 'expected a JSON object'],
      [{ events: history.events.slice(1) }, 'its first event is EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, not WorkflowExecutionStarted'],
      [{ events: [{ eventId: '1', hello: 'world' }] }, 'event 1 has no "...EventAttributes" field'],
    ];
    for (const [given, reason] of cases) {
      const problem = await answer<Problem>(await call('admin', 'POST', replayRoute(workflowId), { history: given }), 400);
      expect(problem).toMatchObject({ status: 400, error: { code: 'invalid_history', param: 'history' } });
      expect(problem.detail).toContain(reason);
    }
  });

  it('answers 404 workflow_not_found for an unknown workflow id when no history is uploaded', async () => {
    const problem = await answer<Problem>(await call('admin', 'POST', replayRoute('video-no-such-workflow')), 404);
    expect(problem).toMatchObject({ status: 404, error: { code: 'workflow_not_found' } });
    expect(problem.detail).toContain('video-no-such-workflow');
  });

  it("is in the OpenAPI document under the 'debug' tag", async () => {
    const doc = await answer<{ paths: Record<string, Record<string, { tags?: string[] }>> }>(await fetch(`${stack.url}/openapi.json`), 200);
    expect(doc.paths['/v1/debug/workflows/{workflow_id}/history']?.get?.tags).toEqual(['debug']);
    expect(doc.paths['/v1/debug/workflows/{workflow_id}/replay']?.post?.tags).toEqual(['debug']);
  });
});

describe('who may use the workflow debugging endpoints', () => {
  /** Everything but what names the request (its path, its id) must be the same as for a route that does not exist. */
  const shape = (p: Problem) => ({ type: p.type, title: p.title, status: p.status, error: { type: p.error.type, code: p.error.code, param: p.error.param } });

  it('answers users, moderators and auditors exactly as a route that does not exist, even with a bad body', async () => {
    const missing = await answer<Problem>(await call('alice', 'GET', '/v1/debug/no-such-route'), 404);
    expect(missing.error.code).toBe('route_not_found');
    for (const who of ['alice', 'moderator', 'auditor'] as const) {
      const requests: Array<[string, string, unknown]> = [
        ['GET', historyRoute(workflowId), undefined],
        ['POST', replayRoute(workflowId), undefined],
        ['POST', replayRoute(workflowId), { history: { foo: 1 } }],
        ['GET', historyRoute('video-no-such-workflow'), undefined],
      ];
      for (const [method, route, body] of requests) {
        const problem = await answer<Problem>(await call(who, method, route, body), 404);
        expect({ who, method, route, problem: shape(problem) }).toEqual({ who, method, route, problem: shape(missing) });
        expect(problem.detail).toBe(`no route ${method} ${route}`);
      }
    }
  });

  it('answers 401 without an API key', async () => {
    const problem = await answer<Problem>(await call(null, 'GET', historyRoute(workflowId)), 401);
    expect(problem.status).toBe(401);
    expect((await call(null, 'POST', replayRoute(workflowId))).status).toBe(401);
  });
});

// ---- npm run replay ------------------------------------------------------------------------------------------------

/** `npm run replay -- <arg>`, as it runs after the bootstrap, against the test's Temporal dev server. */
const replayCli = (arg: string) => runScript('scripts/replay.ts', [arg], { TEMPORAL_ADDRESS: testEnv.temporalAddress, TEMPORAL_NAMESPACE: 'default' });

describe('npm run replay', () => {
  // Each run that replays bundles the workflows (seconds of CPU), so they run together; bad input fails before that.
  it('replays a history file or a workflow id: the JSON report on stdout, a one-line summary on stderr, exit 0 or 1', async () => {
    const file = path.join(tmp, 'generation.json');
    fs.writeFileSync(file, JSON.stringify(history));
    const altered = JSON.parse(JSON.stringify(history)) as { events: Array<{ activityTaskScheduledEventAttributes?: { activityType: { name: string } } }> };
    altered.events.find((e) => e.activityTaskScheduledEventAttributes)!.activityTaskScheduledEventAttributes!.activityType.name = 'renamedActivity';
    const alteredFile = path.join(tmp, 'altered.json');
    fs.writeFileSync(alteredFile, JSON.stringify(altered));

    const [fromFile, fromTemporal, notDeterministic] = await Promise.all([replayCli(file), replayCli(workflowId), replayCli(alteredFile)]);
    for (const [run, id] of [
      [fromFile, 'generation'],
      [fromTemporal, workflowId],
    ] as const) {
      expect({ id, code: run.code, stderr: run.stderr }).toEqual({
        id,
        code: 0,
        stderr: expect.stringMatching(/^replay: generationWorkflow \S+ is deterministic [^\n]*\n$/),
      });
      expect(JSON.parse(run.stdout)).toEqual({
        deterministic: true,
        workflow_type: 'generationWorkflow',
        workflow_id: id,
        events_replayed: history.events.length,
        error: null,
      });
    }
    expect({ code: notDeterministic.code, stderr: notDeterministic.stderr }).toEqual({
      code: 1,
      stderr: expect.stringMatching(/^replay: generationWorkflow altered is NOT deterministic .*renamedActivity.*\n$/),
    });
    expect(JSON.parse(notDeterministic.stdout)).toMatchObject({
      deterministic: false,
      workflow_type: 'generationWorkflow',
      workflow_id: 'altered',
      error: expect.stringContaining('renamedActivity'),
    });
  }, 120000);

  it('exits 2 with the reason for a file that is not a history, a missing file and an unknown workflow id', async () => {
    const text = path.join(tmp, 'notes.txt');
    fs.writeFileSync(text, 'not json at all\n');
    const json = path.join(tmp, 'not-a-history.json');
    fs.writeFileSync(json, JSON.stringify({ events: [] }));
    const cases: Array<[string, string]> = [
      [text, 'is not a Temporal workflow history: the file is not JSON'],
      [json, 'is not a Temporal workflow history: its "events" list is empty'],
      [path.join(tmp, 'missing.json'), 'no such file'],
      ['video-no-such-workflow', 'no workflow with id video-no-such-workflow'],
    ];
    const runs = await Promise.all(cases.map(([arg]) => replayCli(arg)));
    runs.forEach((run, i) => {
      const [arg, reason] = cases[i];
      expect({ arg, code: run.code, stdout: run.stdout, stderr: run.stderr }).toEqual({ arg, code: 2, stdout: '', stderr: expect.stringContaining(reason) });
    });
  }, 60000);
});

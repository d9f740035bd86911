// Traces and metrics (issue 17), through the role processes as `npm start` and production run them, on the test run's
// Temporal dev server and a PostgreSQL database of this file's own. A real OTLP/HTTP receiver in this test (JSON
// encoding, as the roles' exporter sends it) takes the spans of one 1 s 256x256 video, which must form one trace: the
// API's POST /v1/videos span at its root, then the workflow start, the workflow, the chunk's activity and its inference
// call, each the parent of the next. Each role's /metrics names the metrics the issue asks for, and every metric the
// Grafana dashboard (deploy/grafana/reelforge.json) queries is one a role serves.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startRole, withRoleOutput, type RoleProcess } from '../support/processes';
import { testEnv } from '../support/env';
import { createRoleDatabase, dropRoleDatabase, roleEnv, videoFinished } from '../support/roleDatabase';

interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
}

/** OTLP ids are hex in OTLP/JSON; base64 (protobuf's JSON mapping) is taken too. */
const hexId = (id: unknown): string => {
  const text = typeof id === 'string' ? id : '';
  return text === '' || /^[0-9a-f]+$/.test(text) ? text : Buffer.from(text, 'base64').toString('hex');
};

/** An OTLP/HTTP trace receiver on 127.0.0.1: POST /v1/traces with an ExportTraceServiceRequest as JSON. */
async function otlpReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; requests: () => number; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  let requests = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).startsWith('application/json')) {
        res.writeHead(415).end();
        return;
      }
      requests++;
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as any;
      for (const rs of body.resourceSpans ?? []) {
        const service = (rs.resource?.attributes ?? []).find((a: any) => a.key === 'service.name')?.value?.stringValue ?? '';
        for (const ss of rs.scopeSpans ?? [])
          for (const s of ss.spans ?? [])
            spans.push({ service, traceId: hexId(s.traceId), spanId: hexId(s.spanId), parentSpanId: hexId(s.parentSpanId), name: s.name });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The metric names of a Prometheus text page (from its `# TYPE` lines). */
async function metricNames(url: string): Promise<Set<string>> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
}

/** The metric names a dashboard's queries use (a histogram's _bucket, _sum and _count as the histogram's name). */
function dashboardMetrics(dashboard: any): string[] {
  const exprs: string[] = (dashboard.panels ?? []).flatMap((p: any) => (p.targets ?? []).map((t: any) => String(t.expr ?? '')));
  const names = exprs.flatMap((e) => [...e.matchAll(/\breelforge_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')));
  return [...new Set(names)].sort();
}

describe('traces and metrics of the roles', () => {
  const suffix = randomUUID().replace(/-/g, '').slice(0, 10);
  const database = `rf_otel_${suffix}`;
  const dataDir = path.join(testEnv.tmpDir, `otel-${suffix}`);
  const roles: RoleProcess[] = [];
  let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
  let databaseUrl: string;

  beforeAll(async () => {
    fs.mkdirSync(dataDir, { recursive: true });
    databaseUrl = await createRoleDatabase(database);
    receiver = await otlpReceiver();
  });

  afterAll(async () => {
    await Promise.all(roles.map((r) => r.kill('SIGKILL')));
    await receiver?.close();
    await dropRoleDatabase(database);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('one video is one trace, API request -> workflow -> activity -> GPU inference; each role serves its metrics; the dashboard queries only those', async () => {
    const env = {
      ...roleEnv({ databaseUrl, queues: `otel-${suffix}`, dataDir }),
      SHUTDOWN_GRACE_SECONDS: '10',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    };
    const start = (entry: string) => {
      const role = startRole(entry, env);
      roles.push(role);
      // Its health endpoint (worker roles) or its port (the API), and its "up" line, watched for from its start.
      return { role, address: role.logged(/^(health endpoint on|API listening)/) };
    };
    const api = start('api/main.ts');
    const orchestration = start('activities/worker.ts');
    const gpu = start('gpu-workers/worker.ts');
    const projector = start('projections/main.ts');
    const up = [orchestration.role.logged(/orchestration worker polling/), gpu.role.logged(/gpu worker polling/), projector.role.logged(/^projector running/)];

    await withRoleOutput(
      () => roles,
      async () => {
        const apiUrl = `http://127.0.0.1:${(await api.address).port as number}`;
        const healthUrl = async (r: typeof gpu) => String((await r.address).health);
        await Promise.all(up);
        const keys = JSON.parse(fs.readFileSync(path.join(dataDir, 'dev-keys.json'), 'utf8')) as { user: string };
        const headers = { authorization: `Bearer ${keys.user}`, 'content-type': 'application/json' };

        const created = await fetch(`${apiUrl}/v1/videos`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ prompt: 'a red ball bounces on a wooden floor', seconds: 1, size: '256x256' }),
        });
        expect(created.status).toBe(200);
        const { id } = (await created.json()) as { id: string };
        const done = await videoFinished(apiUrl, headers, id);
        expect(done.status).toBe('completed');

        // Metrics, per role.
        const served = {
          api: await metricNames(apiUrl),
          orchestration: await metricNames(await healthUrl(orchestration)),
          gpu: await metricNames(await healthUrl(gpu)),
          projector: await metricNames(await healthUrl(projector)),
        };
        const errors = 'reelforge_errors_total';
        expect([...served.api]).toEqual(expect.arrayContaining(['reelforge_http_requests_total', 'reelforge_eventstore_append_seconds', errors]));
        expect([...served.orchestration]).toEqual(
          expect.arrayContaining(['reelforge_video_jobs_total', 'reelforge_task_queue_backlog', 'reelforge_eventstore_append_seconds', errors]),
        );
        expect([...served.gpu]).toEqual(
          expect.arrayContaining(['reelforge_gpu_inference_seconds_total', 'reelforge_gpu_chunk_render_seconds', 'reelforge_gpu_busy_fraction', errors]),
        );
        expect([...served.projector]).toEqual(expect.arrayContaining(['reelforge_projection_lag_seconds', 'reelforge_projection_lag_events', errors]));
        const orchestrationText = await (await fetch(`${await healthUrl(orchestration)}/metrics`)).text();
        expect(orchestrationText).toMatch(/^reelforge_video_jobs_total\{status="completed"\} 1$/m);
        // The dev server reports the queues' backlog (DescribeTaskQueue report_stats).
        expect(orchestrationText).toMatch(new RegExp(`^reelforge_task_queue_backlog\\{task_queue="otel-${suffix}-gpu",type="activity"\\} \\d+$`, 'm'));
        const gpuText = await (await fetch(`${await healthUrl(gpu)}/metrics`)).text();
        expect(gpuText).toMatch(/^reelforge_gpu_chunk_render_seconds_count 1$/m);

        // The dashboard queries only metrics some role serves.
        const dashboard = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'deploy', 'grafana', 'reelforge.json'), 'utf8'));
        const all = new Set(Object.values(served).flatMap((s) => [...s]));
        const queried = dashboardMetrics(dashboard);
        expect(queried.length).toBeGreaterThanOrEqual(10);
        expect(queried.filter((name) => !all.has(name))).toEqual([]);

        // SIGTERM: each role sends the spans it still holds before it exits.
        for (const r of roles) expect(await r.kill('SIGTERM')).toBe('code 0');
      },
    );

    const root = receiver.spans.find((s) => s.service === 'reelforge-api' && s.name === 'POST /v1/videos');
    expect(root).toBeDefined();
    expect(root!.parentSpanId).toBe('');
    const trace = receiver.spans.filter((s) => s.traceId === root!.traceId);
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const inference = trace.find((s) => s.name === 'inference renderVideoChunk');
    expect(inference).toBeDefined();
    // From the inference call up to the root, each span's parent in the same trace.
    const chain: ReceivedSpan[] = [];
    for (let s: ReceivedSpan | undefined = inference; s; s = s.parentSpanId ? byId.get(s.parentSpanId) : undefined) chain.unshift(s);
    expect(chain.map((s) => `${s.service} ${s.name}`)).toEqual([
      'reelforge-api POST /v1/videos',
      'reelforge-api StartWorkflow:generationWorkflow',
      'reelforge-orchestration-worker RunWorkflow:generationWorkflow',
      'reelforge-orchestration-worker StartActivity:renderChunk',
      'reelforge-gpu-worker RunActivity:renderChunk',
      'reelforge-gpu-worker inference renderVideoChunk',
    ]);
    // The orchestration worker's own activities are in the trace too (the appends of the video's events).
    expect(trace.some((s) => s.name === 'RunActivity:appendEvents' && s.service === 'reelforge-orchestration-worker')).toBe(true);
    process.stdout.write(`${receiver.spans.length} spans in ${receiver.requests()} OTLP requests; ${trace.length} in the video's trace\n`);
  }, 240000);
});

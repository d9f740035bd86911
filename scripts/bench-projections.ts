// `npm run bench:projections`: how fast each read model folds the event store. Writes a realistic mix of events
// (generations with their chunks, publishes, remixes, likes and unlikes, view batches, takedowns), rebuilds each read
// model from zero on its own and reports the events per second it gets through; then runs the projector live while
// paced writers offer 200 events/s and reports, per read model, the lag from an append returning to the read model
// having committed it (p50/p99). Prints a table and writes the results as JSON to bench-results/.
//
// Flags: --events N (default 100000), --lag-seconds N (default 20), --rate N (events/s offered, default 200).
// --scale S (issue 22): instead of the mix, a synthetic store of S x (1,000,000 published videos, 10,000,000 likes,
// 100,000 users following 10 each, 50,000 remixes, one chain of them 1,000 deep), decided by the video decider
// (scripts/bench/scaleStore.ts); then also the reads' latency (feed first and later pages, following=true, lineage at
// the chain's depth, a user's list) over HTTP from the API app on the live read models (scripts/bench/apiServer.ts), and a
// targets table. --rate defaults to 1000 with it.
// Target: DATABASE_URL when set, else a throw-away embedded PostgreSQL. Everything lives in fresh schemas, dropped at the end.
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { machineInfo } from './bench/machine';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { planChunks, type VideoEvent } from '../domain/video';
import { loadConfig } from '../infra/config';
import { comparePositions, type Position } from '../infra/eventstore/port';
import { PgEventStore } from '../infra/eventstore/postgres';
import { createLogger } from '../infra/logger';
import { startEmbeddedPostgres } from '../infra/postgres/embedded';
import { createPgPool } from '../infra/postgres/pool';
import { createReadModels } from '../projections/readModels';
import { rebuild } from '../projections/rebuild';
import { ProjectionRunner } from '../projections/runner';
import { Cleanup } from './bench/cleanup';
import { writeResults } from './bench/results';
import { fmt, renderTable } from './bench/table';
import { scaleShape, writeScaleStore, type ScaleStore } from './bench/scaleStore';
import { CALLERS, measureReads, percentile, targetsTable, type Reads } from './bench/projectionReads';
import { createCallers, startBenchApi, type BenchCallers } from './bench/apiServer';

interface Args {
  events: number;
  lagSeconds: number;
  rate: number;
  scale: number;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { events: 100_000, lagSeconds: 20, rate: 0, scale: 0 };
  const flags: Record<string, keyof Args> = { '--events': 'events', '--lag-seconds': 'lagSeconds', '--rate': 'rate', '--scale': 'scale' };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const key = flags[flag];
    const value = Number(inline ?? argv[++i]);
    if (!key || !Number.isFinite(value) || value <= 0)
      throw new Error(`usage: bench-projections [--events N] [--lag-seconds N] [--rate N] [--scale S] (bad ${argv[i]})`);
    args[key] = value;
  }
  if (args.rate === 0) args.rate = args.scale > 0 ? 1000 : 200;
  return args;
}

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
const newVideoId = () => `video_${randomBytes(16).toString('hex')}`;

/** A whole generation of a video as the workflows record it: 11 events for 2 chunks. */
function generation(id: string, owner: string, at: number, parent: string | null): VideoEvent[] {
  const chunks = planChunks(2, 24, 24);
  return [
    {
      type: 'VideoRequested',
      data: {
        video_id: id,
        owner_id: owner,
        prompt: `three balls bouncing, take ${at % 997}`,
        model: 'reference',
        seconds: 2,
        size: '256x256',
        style: 'cinematic',
        camera: 'pan',
        seed: at % 100_000,
        cameo_ids: [],
        publish: true,
        remixed_from_video_id: parent,
        extended_from_video_id: null,
        has_input_reference: false,
        at,
      },
    },
    { type: 'PromptModerated', data: { case_id: `case_${id}`, verdict: 'allow', categories: [], reasons: [], at: at + 1 } },
    { type: 'ChunksPlanned', data: { total: 2, fps: 24, frames: 48, chunks, at: at + 2 } },
    ...chunks.flatMap((c): VideoEvent[] => [
      {
        type: 'VideoChunkRendered',
        data: {
          index: c.index,
          blob_key: `videos/${id}/chunks/${c.index}.ts`,
          frames: 24,
          collisions: [{ frame: 3, sample: 2000, speed: 1.2, body: 0, kind: 'floor' }],
          at: at + 3 + c.index,
        },
      },
      { type: 'AudioChunkRendered', data: { index: c.index, blob_key: `videos/${id}/chunks/${c.index}.pcm`, samples: 16000, at: at + 3 + c.index } },
    ]),
    {
      type: 'Muxed',
      data: {
        content_key: `videos/${id}/content.mp4`,
        thumbnail_key: `videos/${id}/thumbnail.jpg`,
        spritesheet_key: `videos/${id}/spritesheet.jpg`,
        duration_s: 2,
        bytes: 90_000,
        at: at + 6,
      },
    },
    { type: 'OutputModerated', data: { case_id: `case2_${id}`, verdict: 'allow', categories: [], reasons: [], at: at + 7 } },
    { type: 'VideoCompleted', data: { at: at + 8 } },
  ];
}

/** Streams and their events, ~16 events per video: 70% published, 30% remixes, likes (a fifth taken back), views, 3% taken down. */
function workload(total: number): { stories: Map<string, VideoEvent[]>; engagement: [string, VideoEvent[]][] } {
  const stories = new Map<string, VideoEvent[]>();
  const engagement: [string, VideoEvent[]][] = [];
  const published: string[] = [];
  const users = Array.from({ length: 500 }, (_, i) => `user_${String(i).padStart(4, '0')}`);
  let n = 0;
  let at = 1_760_000_000;
  for (let v = 0; n < total; v++) {
    const id = newVideoId();
    const parent = published.length > 0 && v % 10 < 3 ? published[(v * 7919) % published.length]! : null;
    const owner = users[(v * 31) % users.length]!;
    at += 30;
    const events = generation(id, owner, at, parent);
    if (v % 10 < 7) {
      events.push({ type: 'VideoPublished', data: { by: owner, cameo_uses: [], at: at + 9 } });
      published.push(id);
    }
    stories.set(id, events);
    n += events.length;
    if (parent) {
      engagement.push([parent, [{ type: 'VideoRemixed', data: { child_video_id: id, by: owner, at: at + 9 } }]]);
      n++;
    }
    if (v % 10 < 7) {
      const likers = users.slice((v * 13) % 400, ((v * 13) % 400) + (v % 9));
      const social: VideoEvent[] = likers.map((u, k) => ({ type: 'VideoLiked', data: { user_id: u, at: at + 20 + k } }));
      social.push(...likers.filter((_, k) => k % 5 === 4).map((u): VideoEvent => ({ type: 'VideoUnliked', data: { user_id: u, at: at + 40 } })));
      social.push({ type: 'VideoViewed', data: { count: 1 + (v % 17), at: at + 50 } });
      if (v % 33 === 5) social.push({ type: 'VideoTakenDown', data: { by: 'user_moderator', reason: 'cameo owner asked', at: at + 60 } });
      engagement.push([id, social]);
      n += social.length;
    }
  }
  return { stories, engagement };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const config = loadConfig();
  const startedAt = new Date();
  const loadAverageAtStart = os.loadavg();
  const cleanup = new Cleanup();
  cleanup.stopOnCrash();
  const onSignal = () => void cleanup.run().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const logger = createLogger({ level: 'warn', name: 'bench-projections' });
  try {
    let url = config.databaseUrl;
    let target = 'DATABASE_URL';
    if (!url) {
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-bench-'));
      fs.chmodSync(tmp, 0o755);
      cleanup.push('remove temp folder', async () => fs.rmSync(tmp, { recursive: true, force: true }));
      log('starting embedded PostgreSQL (set DATABASE_URL to use another server)');
      const server = await startEmbeddedPostgres({ dataDir: path.join(tmp, 'data'), port: 0 });
      cleanup.push('stop embedded PostgreSQL', () => server.stop());
      url = server.connectionString;
      target = 'embedded';
    }
    const tag = randomBytes(4).toString('hex');
    const schemas = { events: `benchproj_es_${tag}`, live: `benchproj_live_${tag}`, rebuild: `benchproj_rb_${tag}`, app: `benchproj_app_${tag}` };
    const pool = createPgPool({ connectionString: url, max: 12 });
    cleanup.push('close pool', () => pool.end());
    cleanup.push('drop schemas', async () => {
      for (const s of Object.values(schemas)) await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    });
    const store = await PgEventStore.open({ connectionString: url, schema: schemas.events, maxEventBytes: 1024 * 1024, poolSize: 10 });
    cleanup.push('close event store', () => store.close());

    // ---- the log ----
    let head: Position | undefined;
    const note = (p: Position) => {
      if (!head || comparePositions(p, head) > 0) head = p;
    };
    const writeStart = performance.now();
    let stories = new Map<string, VideoEvent[]>();
    let engagement: [string, VideoEvent[]][] = [];
    let scaled: ScaleStore | undefined;
    let callers: BenchCallers | undefined;
    if (args.scale > 0) {
      log(`writing the synthetic store at scale ${args.scale}: ${JSON.stringify(scaleShape(args.scale))}`);
      // The API's callers first: they are the store's first users (they follow, own videos, like), with keys.
      callers = await createCallers(pool, schemas.app, CALLERS);
      const users = callers.users;
      cleanup.push('close users store', () => users.close());
      scaled = await writeScaleStore(store, args.scale, log, callers.ids);
      note(scaled.head);
    } else {
      log(`writing ${fmt(args.events)} events`);
      ({ stories, engagement } = workload(args.events));
      const appendAll = async (items: [string, VideoEvent[]][]) => {
        let next = 0;
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            while (next < items.length) {
              const [id, events] = items[next++]!;
              // Workflows append a step or a few at a time, not a whole story at once.
              for (let i = 0; i < events.length; i += 4) {
                note(
                  (
                    await store.appendToStream(
                      `video-${id}`,
                      events.slice(i, i + 4).map((e) => ({ id: randomUUID(), type: e.type, data: e.data, metadata: { actor: 'bench' } })),
                    )
                  ).position,
                );
              }
            }
          }),
        );
      };
      await appendAll([...stories]);
      await appendAll(engagement);
    }
    const writeSeconds = (performance.now() - writeStart) / 1000;
    const written = (
      await pool.query<{ n: string }>(`SELECT count(*) AS n FROM "${schemas.events}".events`).catch(() => ({ rows: [{ n: String(args.events) }] }))
    ).rows[0]!.n;
    const storeBytes = Number(
      (
        await pool.query<{ bytes: string }>(
          `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = $1 AND c.relkind = 'r'`,
          [schemas.events],
        )
      ).rows[0]!.bytes,
    );
    log(`wrote ${written} events in ${fmt(writeSeconds, 1)} s (${fmt(storeBytes / 1024 / 1024, 1)} MiB on disk)`);

    // ---- rebuild each read model from zero, one at a time ----
    const rebuilds: { readModel: string; events: number; handled: number; seconds: number; eventsPerSec: number; handledPerSec: number; parked: number }[] = [];
    // Events by type and stream category (what each read model's `handles` is asked about).
    const typeCounts = new Map<string, number>();
    for (const row of (
      await pool.query<{ type: string; cat: string; n: string }>(
        `SELECT type, split_part(stream_name, '-', 1) AS cat, count(*) AS n FROM "${schemas.events}".events GROUP BY 1, 2`,
      )
    ).rows)
      typeCounts.set(`${row.cat}-x ${row.type}`, Number(row.n));
    for (const model of createReadModels()) {
      log(`rebuilding ${model.name}`);
      const t0 = performance.now();
      const result = await rebuild({ eventStore: store, pool, readModel: model, schema: schemas.rebuild, logger, batchSize: 500 });
      const seconds = (performance.now() - t0) / 1000;
      const handled = [...typeCounts].reduce((n, [key, c]) => {
        const [stream, type] = key.split(' ') as [string, string];
        return n + (model.handles(type, stream) ? c : 0);
      }, 0);
      rebuilds.push({
        readModel: model.name,
        events: result.events,
        handled,
        seconds,
        eventsPerSec: result.events / seconds,
        handledPerSec: handled / seconds,
        parked: result.parked,
      });
    }

    // ---- live: catch up, then lag at the offered rate ----
    log('live projector: catching up');
    // The projector reads through an event store of its own, as its own process does (projections/main.ts): its
    // subscriptions neither queue behind the writers' appends for connections nor share their in-process wake-ups
    // (they are woken by NOTIFY, as across processes).
    const projectorStore = await PgEventStore.open({ connectionString: url, schema: schemas.events, maxEventBytes: 1024 * 1024 });
    cleanup.push('close the projector event store', () => projectorStore.close());
    const runner = new ProjectionRunner({ eventStore: projectorStore, pool, schema: schemas.live, readModels: createReadModels(), logger });
    cleanup.push('stop projector', () => runner.stop());
    const catchUpStart = performance.now();
    await runner.start();
    await runner.waitFor(head!, { timeoutMs: 600_000 });
    const catchUpSeconds = (performance.now() - catchUpStart) / 1000;
    let reads: Reads | undefined;
    if (scaled && callers) {
      const api = await startBenchApi({ pool, eventStore: store, users: callers.users, appSchema: schemas.app, readModelsSchema: schemas.live });
      cleanup.push('stop the API', () => api.close());
      reads = await measureReads(pool, schemas.live, scaled, { url: api.url, keys: callers.keys }, log);
    }

    log(`live projector: ${args.rate} events/s offered for ${args.lagSeconds} s`);
    const lags = new Map<string, number[]>(createReadModels().map((m) => [m.name, []]));
    const published = scaled
      ? scaled.videos.map((v) => v.id)
      : [...stories].filter(([, events]) => events.some((e) => e.type === 'VideoPublished')).map(([id]) => id);
    // Enough paced writers that each has ~60 ms between its appends: the offered rate is reached unless the machine is
    // saturated (the achieved rate is reported beside it).
    const writers = Math.max(4, Math.ceil(args.rate / 60));
    const intervalMs = (1000 * writers) / args.rate;
    const waits: Promise<void>[] = [];
    let offered = 0;
    let likeSeq = 0;
    const lagStart = performance.now();
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        // Each writer alternates new generations (their events one by one) and likes on published videos.
        let pending: VideoEvent[] = [];
        let stream = '';
        for (let i = 0; performance.now() - lagStart < args.lagSeconds * 1000; i++) {
          const due = lagStart + i * intervalMs + (w * intervalMs) / writers;
          await sleep(due - performance.now());
          let target: string;
          let event: VideoEvent;
          if (i % 3 === 2) {
            target = published[(likeSeq * 7 + w) % published.length]!;
            event = { type: 'VideoLiked', data: { user_id: `user_live_${likeSeq++}`, at: Math.floor(Date.now() / 1000) } };
          } else {
            if (pending.length === 0) {
              stream = newVideoId();
              pending = [
                ...generation(stream, `user_w${w}`, Math.floor(Date.now() / 1000), null),
                { type: 'VideoPublished', data: { by: `user_w${w}`, cameo_uses: [], at: Math.floor(Date.now() / 1000) } },
              ];
            }
            target = stream;
            event = pending.shift()!;
          }
          const t0 = performance.now();
          const { position } = await store.appendToStream(`video-${target}`, [{ id: randomUUID(), type: event.type, data: event.data }]);
          offered++;
          for (const name of lags.keys()) {
            waits.push(runner.waitFor(position, { readModel: name, timeoutMs: 60_000 }).then(() => void lags.get(name)!.push(performance.now() - t0)));
          }
        }
      }),
    );
    const offeredSeconds = (performance.now() - lagStart) / 1000;
    await Promise.all(waits);
    await runner.stop();

    const lag = [...lags].map(([readModel, values]) => ({
      readModel,
      samples: values.length,
      p50Ms: percentile(values, 50),
      p99Ms: percentile(values, 99),
      maxMs: percentile(values, 100),
    }));
    const results = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      args,
      machine: machineInfo(loadAverageAtStart),
      postgres: target,
      events: Number(written),
      eventTypes: Object.fromEntries(typeCounts),
      ...(scaled ? { scale: { factor: args.scale, shape: scaled.shape, writeSeconds, storeBytes, chainDepth: scaled.shape.chainDepth } } : {}),
      ...(reads ? { reads } : {}),
      rebuild: rebuilds,
      live: { catchUpSeconds, catchUpEventsPerSec: Number(written) / catchUpSeconds, offeredRate: args.rate, achievedRate: offered / offeredSeconds, lag },
    };
    const table = renderTable(
      ['read model', 'rebuild events', 'handled', 'rebuild s', 'events/s', 'handled/s', 'parked', `lag p50 ms @${args.rate}/s`, 'lag p99 ms', 'lag max ms'],
      rebuilds.map((r) => {
        const l = lag.find((x) => x.readModel === r.readModel)!;
        return [
          r.readModel,
          r.events,
          r.handled,
          fmt(r.seconds, 1),
          fmt(r.eventsPerSec),
          fmt(r.handledPerSec),
          r.parked,
          fmt(l.p50Ms, 1),
          fmt(l.p99Ms, 1),
          fmt(l.maxMs, 1),
        ];
      }),
    );
    process.stdout.write(
      `${table}\n\nlive catch-up of all read models together: ${fmt(results.live.catchUpEventsPerSec)} events/s (${fmt(catchUpSeconds, 1)} s); offered ${fmt(results.live.achievedRate, 1)} events/s for ${fmt(offeredSeconds, 1)} s\n`,
    );
    if (scaled) {
      process.stdout.write(
        `\nscale ${args.scale}: ${fmt(scaled.shape.videos)} videos, ${fmt(scaled.shape.likes)} likes, ${fmt(scaled.shape.users)} users, ${fmt(scaled.shape.remixes)} remixes (chain ${scaled.shape.chainDepth} deep); ${written} events written in ${fmt(writeSeconds, 1)} s, ${fmt(storeBytes / 1024 / 1024, 1)} MiB on disk\n`,
      );
      process.stdout.write(`\n${targetsTable(rebuilds, lag, reads!, { offered: args.rate, achieved: results.live.achievedRate })}\n`);
    }
    process.stdout.write(`JSON: ${writeResults('projections', startedAt, results)}\n`);
  } finally {
    await cleanup.run();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-projections: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});

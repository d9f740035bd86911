// Rebuild-and-swap (projections/rebuildSwap.ts, `npm run projections:rebuild`) against the embedded PostgreSQL: 200
// mixed videos, their cameos and follows, recorded through the real deciders in the order the workflows give the
// commands and appended through the real PgEventStore while a live ProjectionRunner projects them; every read model
// rebuilt from zero into fresh tables equals the live one, is swapped in under the running projector, and the
// projector (never restarted) carries on into the swapped-in tables.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import {
  CameoCommandRefused,
  decide as decideCameo,
  eventHash,
  evolve as evolveCameo,
  GENESIS_HASH,
  initialCameoState,
  type CameoCommand,
  type CameoEvent,
  type CameoState,
  type Permission,
} from '../../domain/cameo';
import {
  decide as decideVideo,
  evolve as evolveVideo,
  initialVideoState,
  isFinished,
  VideoCommandRefused,
  type VideoCommand,
  type VideoEvent,
  type VideoState,
} from '../../domain/video';
import { comparePositions, positionFromString, positionToString, type EventStore, type Position } from '../../infra/eventstore/port';
import { createLogger } from '../../infra/logger';
import { createPgPool, type PgPool } from '../../infra/postgres/pool';
import { createReadModels } from '../../projections/readModels';
import { rebuildAndSwap, scratchSchemaFor } from '../../projections/rebuildSwap';
import type { ReadModel } from '../../projections/projection';
import { rebuild } from '../../projections/rebuild';
import { ProjectionRunner } from '../../projections/runner';
import { readCheckpoint } from '../../projections/store';
import { testEnv } from '../support/env';
import { dropSchemas, freshEventStore, schemaName } from '../support/schemas';
import { runScript } from '../support/processes';
import { videoRequest } from '../support/videos';

jest.setTimeout(90_000);

const silent = createLogger({ level: 'silent', name: 'rebuild-test' });
const BASE = 1_770_000_000;
const FPS = 24;

// ---- the workload: commands to the real deciders, in the order the workflows give them -----------------------------

/** A small seeded PRNG (mulberry32): the same seed gives the same workload. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One stream as a workflow writes it: commands decided in turn against the state the ones before leave, appended as one
 * batch at the exact revision; one batch at a time per stream (as the stream writer does).
 */
class SimStream<S, C, E extends { type: string; data: unknown }> {
  revision = -1;
  private prevHash = GENESIS_HASH;
  private turn: Promise<unknown> = Promise.resolve();

  constructor(
    readonly name: string,
    public state: S,
    private readonly workload: Workload,
    private readonly decide: (command: C, state: S) => E[],
    private readonly evolve: (state: S, event: E) => S,
    private readonly options: { chained?: boolean; ended?: (state: S) => boolean } = {},
  ) {}

  /** The events recorded; a refusal of the decider rejects (nothing recorded), as the workflow's validator does. */
  run(...commands: C[]): Promise<E[]> {
    const result = this.turn.then(async () => {
      let next = this.state;
      const batch: E[] = [];
      for (const command of commands) {
        if (batch.length > 0 && this.options.ended?.(next)) break;
        const decided = this.decide(command, next);
        next = decided.reduce(this.evolve, next);
        batch.push(...decided);
      }
      if (batch.length === 0) return batch;
      const first = this.revision + 1;
      let prev = this.prevHash;
      const data = batch.map((e, i) => {
        const metadata: Record<string, unknown> = { actor: 'workload', correlationId: this.name };
        if (this.options.chained) {
          const hash = eventHash(prev, first + i, e.type, e.data);
          Object.assign(metadata, { prev_hash: prev, hash });
          prev = hash;
        }
        return { id: randomUUID(), type: e.type, data: e.data, metadata };
      });
      const appended = await this.workload.store.appendToStream(this.name, data, { expectedRevision: this.revision < 0 ? 'no_stream' : BigInt(this.revision) });
      this.revision = Number(appended.nextExpectedRevision);
      this.prevHash = prev;
      this.state = next;
      this.workload.recorded(appended.position, batch.length);
      return batch;
    });
    this.turn = result.catch(() => undefined);
    return result;
  }
}

type VideoSim = SimStream<VideoState, VideoCommand, VideoEvent>;
type CameoSim = SimStream<CameoState, CameoCommand, CameoEvent>;

/** Refusals the workflows turn into outcomes (a stopped video, a draft left private), not failures. */
function refused(err: unknown): boolean {
  if (err instanceof VideoCommandRefused || err instanceof CameoCommandRefused) return true;
  throw err;
}

type Kind =
  | 'private'
  | 'published'
  | 'cancelled'
  | 'blocked_prompt'
  | 'blocked_output'
  | 'failed'
  | 'cameo'
  | 'cameo_revoked'
  | 'cameo_missing'
  | 'remix'
  | 'extension';

const MIX: [Kind, number][] = [
  ['private', 36],
  ['published', 40],
  ['cancelled', 16],
  ['blocked_prompt', 12],
  ['blocked_output', 8],
  ['failed', 10],
  ['cameo', 26],
  ['cameo_revoked', 10],
  ['cameo_missing', 6],
  ['remix', 24],
  ['extension', 12],
];

class Workload {
  readonly rand: () => number;
  readonly users: string[];
  readonly videos = new Map<string, VideoSim>();
  readonly cameos = new Map<string, CameoSim>();
  private readonly follows = new Map<string, Set<string>>();
  head: Position | undefined;
  events = 0;
  kinds = new Map<Kind, number>();
  private clock = BASE;
  private seq = 0;

  constructor(
    readonly store: EventStore,
    seed: number,
    private readonly tag: string,
  ) {
    this.rand = prng(seed);
    this.users = Array.from({ length: 8 }, (_, i) => `user_${tag}_${i}`);
  }

  recorded(position: Position, count: number): void {
    this.events += count;
    if (!this.head || comparePositions(position, this.head) > 0) this.head = position;
  }

  now(): number {
    return (this.clock += 1 + Math.floor(this.rand() * 4));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rand() * items.length)]!;
  }

  id(prefix: string): string {
    return `${prefix}_${this.tag}${String(++this.seq).padStart(5, '0')}`;
  }

  video(id: string): VideoSim {
    let v = this.videos.get(id);
    if (!v) {
      v = new SimStream(`video-${id}`, initialVideoState, this, decideVideo, evolveVideo, { ended: isFinished });
      this.videos.set(id, v);
    }
    return v;
  }

  cameo(id: string): CameoSim {
    let c = this.cameos.get(id);
    if (!c) {
      c = new SimStream(`cameo-${id}`, initialCameoState, this, decideCameo, evolveCameo, { chained: true });
      this.cameos.set(id, c);
    }
    return c;
  }

  async follow(user: string, followee: string, unfollow = false): Promise<void> {
    const type = unfollow ? 'UserUnfollowed' : 'UserFollowed';
    const appended = await this.store.appendToStream(`user-${user}`, [
      { id: randomUUID(), type, data: { followee_id: followee, at: this.now() }, metadata: { actor: user } },
    ]);
    this.recorded(appended.position, 1);
    const set = this.follows.get(user) ?? new Set<string>();
    if (unfollow) set.delete(followee);
    else set.add(followee);
    this.follows.set(user, set);
  }

  mutual(user: string, owner: string): boolean {
    return !!this.follows.get(user)?.has(owner) && !!this.follows.get(owner)?.has(user);
  }

  /** Registration and verification as cameoWorkflow records them, then the owner's consent decisions. */
  async createCameo(owner: string, permission: Permission, opts: { rejected?: boolean; grants?: string[] } = {}): Promise<string> {
    const cameoId = this.id('cameo');
    const c = this.cameo(cameoId);
    await c.run({
      type: 'RegisterCameo',
      data: {
        cameo_id: cameoId,
        owner_id: owner,
        display_name: `cameo of ${owner}`,
        permission,
        challenge_id: `chal_${cameoId}`,
        phrase: 'blue bicycles bounce',
        recording_key: `rec/${cameoId}`,
        at: this.now(),
      },
    });
    await c.run({
      type: 'RecordVerification',
      data: opts.rejected
        ? { accepted: false, likeness_key: null, reason: 'the phrase was not spoken', checks: { phrase: false }, at: this.now() }
        : { accepted: true, likeness_key: `likeness/${cameoId}`, reason: null, checks: { phrase: true, liveness: true }, at: this.now() },
    });
    for (const user of opts.grants ?? []) await c.run({ type: 'GrantAccess', data: { by: owner, user_id: user, at: this.now() } });
    return cameoId;
  }

  /** Videos another can build on: completed, not deleted or taken down; published ones for a remix by anyone. */
  completed(filter: (s: VideoState) => boolean): string[] {
    return [...this.videos.entries()]
      .filter(([, v]) => v.state.status === 'completed' && !v.state.deleted && v.state.visibility !== 'taken_down' && filter(v.state))
      .map(([id]) => id);
  }

  /** One generation, as generationWorkflow gives its commands (and publishWorkflow, recordRemixWorkflow after it). */
  async generate(kind: Kind, owner: string, cameo?: { id: string; revokeAt?: number }): Promise<void> {
    this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + 1);
    let parent: VideoState | undefined;
    if (kind === 'remix') {
      const candidates = this.completed((s) => s.visibility === 'published');
      if (candidates.length > 0) parent = this.video(this.pick(candidates)).state;
    } else if (kind === 'extension') {
      const candidates = this.completed((s) => s.request!.owner_id === owner && s.request!.seconds < 4);
      if (candidates.length > 0) parent = this.video(this.pick(candidates)).state;
    }
    const videoId = this.id('video');
    const v = this.video(videoId);
    const seconds = kind === 'extension' && parent ? parent.request!.seconds + 1 : 1 + Math.floor(this.rand() * 3);
    await v.run({
      type: 'RequestVideo',
      data: {
        ...videoRequest(kind === 'blocked_prompt' ? 'a gory fight scene' : `balls bouncing in room ${videoId.slice(-3)}`, {
          video_id: videoId,
          owner_id: owner,
          seconds,
          style: this.pick(['cinematic', 'toon', 'noir']),
          camera: this.pick(['static', 'pan', 'orbit']),
          seed: Math.floor(this.rand() * 1e6),
          cameo_ids: cameo ? [cameo.id] : [],
          publish: kind !== 'private' && this.rand() < 0.8,
          remixed_from_video_id: kind === 'remix' && parent ? parent.request!.video_id : null,
          extended_from_video_id: kind === 'extension' && parent ? parent.request!.video_id : null,
          at: this.now(),
        }),
      },
    });
    const block = kind === 'blocked_prompt';
    const verdict: VideoCommand = {
      type: 'RecordPromptVerdict',
      data: {
        case_id: this.id('case'),
        verdict: block ? 'block' : 'allow',
        categories: block ? ['violence'] : [],
        reasons: block ? ['graphic violence'] : [],
        at: this.now(),
      },
    };
    const fromFrame = kind === 'extension' && parent ? parent.request!.seconds * FPS : 0;
    const plan: VideoCommand = {
      type: 'PlanChunks',
      data: { fps: FPS, frames_per_chunk: FPS, ...(fromFrame > 0 ? { from_frame: fromFrame } : {}), at: this.now() },
    };
    if (!cameo) {
      await v.run(verdict, plan);
    } else {
      await v.run(verdict);
      if (v.state.stage === 'blocked') return;
      const c = this.cameo(cameo.id);
      try {
        await c.run({ type: 'ReserveUse', data: { video_id: videoId, user_id: owner, mutual: this.mutual(owner, c.state.ownerId!), at: this.now() } });
      } catch (err) {
        if (refused(err))
          await v.run({ type: 'StopVideo', data: { code: 'consent_missing', message: `cameo ${cameo.id}: ${(err as Error).message}`, at: this.now() } });
        return;
      }
      const use = c.state.uses[videoId]!;
      await v.run({ type: 'ReserveCameo', data: { cameo_id: cameo.id, basis: use.basis, grant_revision: use.grant_revision, at: this.now() } }, plan);
    }
    if (v.state.stage === 'blocked') return;
    const source = kind === 'extension' && parent ? 'extension' : kind === 'remix' && parent ? 'remix' : 'prompt';
    await v.run({
      type: 'RecordScene',
      data: {
        prompt_used: v.state.request!.prompt,
        seed: v.state.request!.seed,
        pack: 'reference@1',
        width: 256,
        height: 256,
        bodies: [1, 2, 3],
        world: [0.5, 9.8],
        ambient: [0.1],
        initial_state: [0, 0, 1, 1],
        source,
        at: this.now(),
      },
    });
    const chunks = v.state.chunks.plan;
    for (const chunk of chunks) {
      const last = chunk.index === chunks.length - 1;
      if (kind === 'cancelled' && (last || this.rand() < 0.5)) {
        await v.run({ type: 'CancelVideo', data: { by: owner, at: this.now() } });
        return;
      }
      if (kind === 'failed' && (last || this.rand() < 0.5)) {
        await v.run({ type: 'FailVideo', data: { code: 'render_failed', message: `chunk ${chunk.index}: the renderer ran out of memory`, at: this.now() } });
        return;
      }
      if (cameo?.revokeAt === chunk.index) {
        // The cameo's owner revokes the user's access mid-render: the use is blocked and the generation stops on it.
        const c = this.cameo(cameo.id);
        await c.run({ type: 'RevokeAccess', data: { by: c.state.ownerId!, user_id: owner, at: this.now() } }).catch(refused);
        if (c.state.uses[videoId]?.status === 'blocked') {
          await v.run({ type: 'StopVideo', data: { code: 'consent_revoked', message: `consent for cameo ${cameo.id} was withdrawn`, at: this.now() } });
          // And grants it again later, so other videos can use it.
          await c.run({ type: 'GrantAccess', data: { by: c.state.ownerId!, user_id: owner, at: this.now() } }).catch(refused);
          return;
        }
      }
      await v.run({
        type: 'RecordVideoChunk',
        data: { index: chunk.index, blob_key: `v/${videoId}/${chunk.index}`, frames: chunk.num_frames, collisions: [], at: this.now() },
      });
      await v.run({
        type: 'RecordAudioChunk',
        data: { index: chunk.index, blob_key: `a/${videoId}/${chunk.index}`, samples: chunk.num_frames * 2000, at: this.now() },
      });
    }
    if (cameo) {
      try {
        await this.cameo(cameo.id).run({
          type: 'CheckUse',
          data: { video_id: videoId, mutual: this.mutual(owner, this.cameo(cameo.id).state.ownerId!), at: this.now() },
        });
      } catch (err) {
        if (refused(err)) await v.run({ type: 'StopVideo', data: { code: 'consent_revoked', message: (err as Error).message, at: this.now() } });
        return;
      }
    }
    const outputBlocked = kind === 'blocked_output';
    await v.run(
      {
        type: 'RecordMux',
        data: {
          content_key: `c/${videoId}.mp4`,
          thumbnail_key: `t/${videoId}.jpg`,
          spritesheet_key: `s/${videoId}.jpg`,
          duration_s: seconds,
          bytes: 20_000 * seconds,
          at: this.now(),
        },
      },
      {
        type: 'RecordOutputVerdict',
        data: {
          case_id: this.id('case'),
          verdict: outputBlocked ? 'block' : 'allow',
          categories: outputBlocked ? ['photosensitivity'] : [],
          reasons: outputBlocked ? ['flashes'] : [],
          at: this.now(),
        },
      },
      { type: 'CompleteVideo', data: { at: this.now() } },
    );
    if (v.state.status !== 'completed') return;
    if (kind === 'remix' && parent) {
      await this.video(parent.request!.video_id)
        .run({ type: 'RecordRemix', data: { child_video_id: videoId, by: owner, at: this.now() } })
        .catch(refused);
    }
    if (v.state.request!.publish) await this.publish(videoId);
  }

  /** publishWorkflow: each cameo use confirmed on the cameo's stream, then VideoPublished with the grant revisions. */
  async publish(videoId: string): Promise<void> {
    const v = this.video(videoId);
    const uses: { cameo_id: string; grant_revision: number }[] = [];
    for (const reservation of v.state.cameoReservations) {
      const c = this.cameo(reservation.cameo_id);
      try {
        await c.run({ type: 'PublishUse', data: { video_id: videoId, mutual: this.mutual(v.state.request!.owner_id, c.state.ownerId!), at: this.now() } });
      } catch (err) {
        if (refused(err)) return;
      }
      uses.push({ cameo_id: reservation.cameo_id, grant_revision: c.state.uses[videoId]!.grant_revision });
    }
    await v.run({ type: 'PublishVideo', data: { by: v.state.request!.owner_id, cameo_uses: uses, at: this.now() } }).catch(refused);
  }

  /** What the API records meanwhile: likes and unlikes, view batches, deletions by owners, takedowns by cameo owners. */
  async engage(): Promise<void> {
    const done = this.completed(() => true);
    if (done.length === 0) return;
    const target = this.video(this.pick(done));
    const r = this.rand();
    const user = this.pick(this.users);
    if (r < 0.5) await target.run({ type: 'LikeVideo', data: { user_id: user, at: this.now() } }).catch(refused);
    else if (r < 0.65)
      await target
        .run({ type: 'UnlikeVideo', data: { user_id: this.pick(target.state.likers.length ? target.state.likers : [user]), at: this.now() } })
        .catch(refused);
    else if (r < 0.85) await target.run({ type: 'RecordViews', data: { count: 1 + Math.floor(this.rand() * 20), at: this.now() } }).catch(refused);
    else if (r < 0.93) await target.run({ type: 'DeleteVideo', data: { by: target.state.request!.owner_id, at: this.now() } }).catch(refused);
    else {
      const use = target.state.cameoReservations[0];
      const by = use ? this.cameo(use.cameo_id).state.ownerId! : this.pick(this.users);
      await target
        .run({ type: 'TakeDownVideo', data: { by, reason: use ? `the owner of cameo ${use.cameo_id} asked` : 'reported', at: this.now() } })
        .catch(refused);
    }
  }

  /** The whole mix: cameos and follows first, then `count` videos by 6 concurrent "workflows" with engagement between. */
  async run(count: number): Promise<void> {
    const [u0, u1, u2, u3, u4, u5, u6, u7] = this.users as [string, string, string, string, string, string, string, string];
    await this.follow(u1, u2);
    await this.follow(u2, u1);
    await this.follow(u1, u4);
    await this.follow(u4, u1);
    await this.follow(u6, u1);
    const approved = await this.createCameo(u0, 'approved', { grants: [u1, u2, u3] });
    const mutuals = await this.createCameo(u1, 'mutuals');
    const everyone = await this.createCameo(u2, 'everyone');
    const onlyMe = await this.createCameo(u3, 'only_me');
    const rejected = await this.createCameo(u4, 'approved', { rejected: true });
    const doomed = await this.createCameo(u5, 'approved', { grants: [u0, u7] });

    const kinds: Kind[] = MIX.flatMap(([kind, n]) => Array.from({ length: Math.round((n * count) / 200) }, () => kind));
    while (kinds.length < count) kinds.push('published');
    kinds.length = count;
    for (let i = kinds.length - 1; i > 0; i--) {
      const j = Math.floor(this.rand() * (i + 1));
      [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < kinds.length) {
        const n = next++;
        const kind = kinds[n]!;
        if (kind === 'cameo') {
          const [owner, cameoId] = this.pick<[string, string]>([
            [u0, approved],
            [u1, approved],
            [u2, mutuals],
            [u4, mutuals],
            [u5, everyone],
            [u3, onlyMe],
            [u0, doomed],
            [u7, doomed],
          ]);
          await this.generate(kind, owner, { id: cameoId });
        } else if (kind === 'cameo_revoked') {
          await this.generate(kind, this.pick([u1, u2, u3]), { id: approved, revokeAt: 0 });
        } else if (kind === 'cameo_missing') {
          const [owner, cameoId] = this.pick<[string, string]>([
            [u6, approved],
            [u6, mutuals],
            [u0, rejected],
            [u7, onlyMe],
          ]);
          await this.generate(kind, owner, { id: cameoId });
        } else {
          await this.generate(kind, this.pick(this.users));
        }
        for (let k = Math.floor(this.rand() * 4); k > 0; k--) await this.engage();
        if (n === Math.floor(count / 2)) {
          // Mid-run: a narrower permission (blocks uses on the basis 'everyone' still rendering) and an unfollow.
          await this.cameo(everyone).run({ type: 'ChangePermission', data: { by: u2, permission: 'mutuals', at: this.now() } });
          await this.follow(u4, u1, true);
        }
      }
    };
    await Promise.all(Array.from({ length: 6 }, () => worker()));
    // Its owner deletes a cameo and takes its videos down (cameoWorkflow then takedownWorkflow per use).
    const c = this.cameo(doomed);
    await c.run({ type: 'DeleteCameo', data: { by: u5, take_down: true, at: this.now() } });
    for (const videoId of Object.keys(c.state.uses)) {
      await this.video(videoId)
        .run({ type: 'TakeDownVideo', data: { by: u5, reason: `cameo ${doomed} was deleted by its owner`, at: this.now() } })
        .catch(refused);
    }
  }
}

// ---- the test ---------------------------------------------------------------------------------------------------

let es: { store: EventStore; schema: string; drop(): Promise<void> };
let pool: PgPool;
const schemas: string[] = [];
let runner: ProjectionRunner | undefined;
let releaseGate: () => void = () => undefined;

beforeAll(async () => {
  es = await freshEventStore('es_rebuild');
  pool = createPgPool({ connectionString: testEnv.embeddedPgUrl, max: 12 });
});
afterAll(async () => {
  releaseGate();
  await runner?.stop();
  await pool?.end();
  await es?.drop();
  await dropSchemas(...schemas);
});

function freshSchema(prefix: string): string {
  const name = schemaName(prefix);
  schemas.push(name);
  return name;
}

/** Every row of a table as sorted JSON text: equal read models give equal lists. */
async function tableRows(schema: string, table: string): Promise<string[]> {
  const res = await pool.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM "${schema}"."${table}" t`);
  return res.rows.map((r) => r.row).sort();
}

async function modelRows(schema: string, model: ReadModel): Promise<Record<string, string[]>> {
  const rows: Record<string, string[]> = {};
  for (const table of model.tables) rows[table] = await tableRows(schema, table);
  return rows;
}

/** The indexes and constraints of a read model's tables, as definitions with the schema name taken out. */
async function tableObjects(schema: string, model: ReadModel): Promise<string[]> {
  const indexes = await pool.query<{ def: string }>(
    `SELECT indexname || ': ' || indexdef AS def FROM pg_indexes WHERE schemaname = $1 AND tablename = ANY($2)`,
    [schema, model.tables],
  );
  const constraints = await pool.query<{ def: string }>(
    `SELECT c.conrelid::regclass::text || ' ' || c.conname || ': ' || pg_get_constraintdef(c.oid) AS def
     FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1 AND c.conrelid::regclass::text LIKE ANY($2)`,
    [schema, model.tables.map((t) => `%${t}`)],
  );
  return [...indexes.rows, ...constraints.rows].map((r) => r.def.split(`"${schema}".`).join('').split(`${schema}.`).join('')).sort();
}

/** `npm run projections:rebuild -- <args>`, as it runs after the bootstrap. */
const rebuildCli = (args: string[], env: Record<string, string | undefined>) =>
  runScript('scripts/projections-rebuild.ts', args, { LOG_LEVEL: 'warn', ...env });

describe('projections:rebuild', () => {
  it('Rebuilt read models equal the live ones after 200 mixed videos (completed, cancelled, blocked, remixed, published and taken down, with cameos granted and revoked)', async () => {
    const live = freshSchema('rm_rebuild');
    const gateUser = 'user_gate';
    // The feed's live runner is held inside a transaction on one like, so it is behind the swap: its next commit must
    // find its checkpoint moved and resume from the rebuilt one.
    let reached!: () => void;
    const gateReached = new Promise<void>((resolve) => (reached = resolve));
    const gateOpen = new Promise<void>((resolve) => (releaseGate = resolve));
    const models = createReadModels().map(
      (m): ReadModel =>
        m.name !== 'feed'
          ? m
          : {
              ...m,
              // One event at a time (apply), so that the gate meets single events.
              applyBatch: undefined,
              async apply(client, event, s) {
                if (event.type === 'VideoLiked' && (event.data as { user_id?: string }).user_id === gateUser) {
                  reached();
                  await gateOpen;
                }
                return m.apply(client, event, s);
              },
            },
    );
    const logs: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          callback();
        },
      }),
    );
    runner = new ProjectionRunner({ eventStore: es.store, pool, schema: live, readModels: models, logger, retryMinMs: 50 });
    await runner.start();

    const started = Date.now();
    const workload = new Workload(es.store, 20261125, randomUUID().slice(0, 6));
    await workload.run(200);
    const appendedMs = Date.now() - started;
    const mixEvents = workload.events;
    await runner.waitFor(workload.head!, { timeoutMs: 60_000 });
    // Read once the runner has seen the head: an append still committing would not be in $all yet.
    const videoEvents = new Map<string, number>();
    for (const e of await es.store.readAll()) videoEvents.set(e.type, (videoEvents.get(e.type) ?? 0) + 1);
    // Every path of the mix is in the events.
    expect(workload.videos.size).toBeGreaterThanOrEqual(200);
    for (const type of [
      'VideoCompleted',
      'VideoCancelled',
      'VideoBlocked',
      'VideoFailed',
      'VideoPublished',
      'VideoTakenDown',
      'VideoDeleted',
      'VideoRemixed',
      'VideoLiked',
      'VideoUnliked',
      'VideoViewed',
      'CameoUseReserved',
    ]) {
      expect({ type, present: (videoEvents.get(type) ?? 0) > 0 }).toEqual({ type, present: true });
    }
    for (const type of [
      'CameoRegistered',
      'CameoVerified',
      'CameoRejected',
      'CameoAccessGranted',
      'CameoAccessRevoked',
      'CameoUsed',
      'CameoUseBlocked',
      'CameoUsePublished',
      'CameoPermissionChanged',
      'CameoDeleted',
      'UserFollowed',
      'UserUnfollowed',
    ]) {
      expect({ type, present: (videoEvents.get(type) ?? 0) > 0 }).toEqual({ type, present: true });
    }
    const extensions = [...workload.videos.values()].filter((v) => v.state.request?.extended_from_video_id && v.state.status === 'completed');
    expect(extensions.length).toBeGreaterThan(0);
    const blockedCodes = new Set([...workload.videos.values()].filter((v) => v.state.stage === 'blocked').map((v) => v.state.error?.code));
    expect(blockedCodes).toEqual(new Set(['moderation_blocked', 'consent_missing', 'consent_revoked']));

    // Rebuild every read model into fresh tables and compare them with the live ones before each swap.
    const compared: string[] = [];
    const objectsBefore = new Map<string, string[]>();
    const swappedAt = new Map<string, { events: number; checkpoint: string }>();
    const results = await rebuildAndSwap({
      eventStore: es.store,
      pool,
      readModels: createReadModels(),
      schema: live,
      logger: silent,
      async beforeSwap({ readModel, scratchSchema }) {
        expect(scratchSchema).toBe(scratchSchemaFor(live, readModel.name));
        await runner!.waitFor(workload.head!, { readModel: readModel.name, timeoutMs: 30_000 });
        expect({ readModel: readModel.name, rows: await modelRows(scratchSchema, readModel) }).toEqual({
          readModel: readModel.name,
          rows: await modelRows(live, readModel),
        });
        // The rebuilt tables have the live ones' indexes and constraints, under the same names.
        const objects = await tableObjects(live, readModel);
        expect(objects.length).toBeGreaterThan(readModel.tables.length - 1);
        expect(await tableObjects(scratchSchema, readModel)).toEqual(objects);
        objectsBefore.set(readModel.name, objects);
        compared.push(readModel.name);
        if (readModel.name === 'feed') {
          // A like the live feed runner starts on but does not commit before the swap; the rebuild folds it.
          const published = workload.completed((s) => s.visibility === 'published');
          await workload.video(published[0]!).run({ type: 'LikeVideo', data: { user_id: gateUser, at: workload.now() } });
          await gateReached;
        }
        swappedAt.set(readModel.name, { events: workload.events, checkpoint: positionToString(workload.head!) });
      },
    });
    expect(compared).toEqual(['videos', 'feed', 'lineage', 'likes', 'cameo_appearances', 'follows', 'moderation_cases']);
    for (const r of results) {
      expect({ readModel: r.readModel, events: r.events, parked: r.parked, checkpoint: r.checkpoint }).toEqual({
        readModel: r.readModel,
        parked: 0,
        ...swappedAt.get(r.readModel),
      });
      // Where it was swapped in, or past it: the live runner folded the like appended during the feed's swap.
      const stored = await readCheckpoint(pool, live, r.readModel);
      expect(comparePositions(positionFromString(stored!.position), positionFromString(r.checkpoint))).toBeGreaterThanOrEqual(0);
      expect(await tableObjects(live, createReadModels().find((m) => m.name === r.readModel)!)).toEqual(objectsBefore.get(r.readModel));
    }
    // No scratch schema is left behind.
    const leftovers = await pool.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE $1`, [`${live}_rebuild_%`]);
    expect(leftovers.rows).toEqual([]);

    // The feed's runner, let go, finds its checkpoint moved and resumes from the rebuilt one; the others were idle.
    releaseGate();
    await runner.waitFor(workload.head!, { timeoutMs: 30_000 });
    expect(logs.some((l) => l.readModel === 'feed' && (l.err as { type?: string } | undefined)?.type === 'CheckpointMoved')).toBe(true);

    // More of everything after the swap: the live runner, never restarted, projects it into the swapped-in tables.
    for (let i = 0; i < 15; i++) await workload.generate(i % 3 === 0 ? 'remix' : 'published', workload.pick(workload.users));
    for (let i = 0; i < 40; i++) await workload.engage();
    await runner.waitFor(workload.head!, { timeoutMs: 30_000 });

    // The command line, once, under the running projector (the videos read model), and with an unknown read model.
    const env = { DATABASE_URL: testEnv.embeddedPgUrl, EVENTSTORE_URL: undefined, EVENTSTORE_SCHEMA: es.schema, READMODELS_SCHEMA: live };
    const cli = await rebuildCli(['videos'], env);
    expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: '' });
    expect(cli.stdout).toMatch(new RegExp(`^videos +${workload.events} +0 +${positionToString(workload.head!)} +\\d+\\.\\d\\d$`, 'm'));
    const unknown = await rebuildCli(['videos', 'nosuch'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/unknown read model "nosuch"; the read models are: videos, feed, lineage, likes, cameo_appearances/);
    const noDatabase = await rebuildCli([], { ...env, DATABASE_URL: 'postgres://reelforge@127.0.0.1:1/nothing' });
    expect(noDatabase.code).toBe(1);
    expect(noDatabase.stderr).toMatch(/cannot reach the read models database at postgres:\/\/reelforge@127\.0\.0\.1:1\/nothing \(from DATABASE_URL\)/);

    // Every read model swapped again while videos are generated and liked, a steady trickle of up to 80 videos (~15
    // a second) for as long as the swaps take: batches in flight meet the swap's locks.
    let loading = true;
    const load = (async () => {
      for (let n = 0; loading && n < 80; n++) {
        await workload.generate(workload.pick(['published', 'remix', 'cancelled'] as const), workload.pick(workload.users));
        for (let i = 0; i < 3; i++) await workload.engage();
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
    })();
    const underLoad = await rebuildAndSwap({
      eventStore: es.store,
      pool,
      readModels: createReadModels(),
      schema: live,
      logger: silent,
      batchSize: 200,
    }).finally(() => (loading = false));
    await load;
    expect(underLoad.map((r) => r.parked)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    await workload.generate('published', workload.users[0]!);
    await runner.waitFor(workload.head!, { timeoutMs: 30_000 });
    const fresh = freshSchema('rb_rebuild');
    for (const model of createReadModels()) {
      const result = await rebuild({ eventStore: es.store, pool, readModel: model, schema: fresh, logger: silent });
      expect(result).toMatchObject({ events: workload.events, parked: 0 });
      expect({ readModel: model.name, rows: await modelRows(live, model) }).toEqual({ readModel: model.name, rows: await modelRows(fresh, model) });
    }
    for (const s of await runner.status()) expect(s).toMatchObject({ phase: 'running', parked: 0, lagEvents: 0 });
    process.stdout.write(
      `rebuild test: ${workload.events} events in all (${workload.videos.size} videos, ${workload.cameos.size} cameos); the 200-video mix was ${mixEvents} events, ` +
        `appended in ${appendedMs} ms; swap seconds ${results.map((r) => `${r.readModel} ${r.seconds.toFixed(2)}`).join(', ')}; under load ${underLoad.map((r) => `${r.readModel} ${r.seconds.toFixed(2)}`).join(', ')}\n`,
    );
  });
});

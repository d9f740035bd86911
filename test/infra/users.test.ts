// The users store on the real (embedded) PostgreSQL: keys stored only hashed, lookups, validation, the first start's
// development keys (once, 0600, one pair even when replicas race), and `npm run user:create` end to end.
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createPgPool, type PgPool } from '../../infra/postgres/pool';
import { newApiKey } from '../../infra/users/keys';
import { InvalidUserError, type UserStore } from '../../infra/users/port';
import { openUserStore } from '../../infra/users/store';
import { testEnv } from '../support/env';
import { runScript } from '../support/processes';

const suffix = () => randomUUID().replace(/-/g, '').slice(0, 12);

function tmpDir(name: string): string {
  return fs.mkdtempSync(path.join(testEnv.tmpDir, `${name}-`));
}

function countRows(pool: PgPool, schema: string): Promise<number> {
  return pool.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".users`).then((r) => Number(r.rows[0]!.n));
}

describe('users store', () => {
  const schemas: string[] = [];
  const stores: UserStore[] = [];
  let pool: PgPool;

  /** A store in a schema of its own, as a fresh deployment would have. */
  async function freshStore(): Promise<{ store: UserStore; schema: string }> {
    const schema = `users_test_${suffix()}`;
    schemas.push(schema);
    const store = await openUserStore({ pool, schema });
    stores.push(store);
    return { store, schema };
  }

  beforeAll(() => {
    pool = createPgPool({ connectionString: testEnv.embeddedPgUrl, max: 8 });
  });

  afterAll(async () => {
    await Promise.allSettled(stores.map((s) => s.close()));
    for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await pool.end();
  });

  it('creates a user with a user_ id and an rf_ key that finds it', async () => {
    const { store } = await freshStore();
    const { user, apiKey } = await store.createUser({ name: 'alice', role: 'moderator' });
    expect(user).toEqual({ id: expect.stringMatching(/^user_[0-9a-f]{32}$/), name: 'alice', role: 'moderator', tier: 'default', createdAt: expect.any(Date) });
    expect(apiKey).toMatch(/^rf_[A-Za-z0-9_-]{43}$/);
    expect(await store.findByKey(apiKey)).toEqual(user);
    expect(await store.findById(user.id)).toEqual(user);

    const other = await store.createUser({ name: 'alice', role: 'user' });
    expect(other.user.id).not.toBe(user.id);
    expect(other.apiKey).not.toBe(apiKey);
    expect((await store.findByKey(other.apiKey))?.role).toBe('user');
  });

  it('stores keys only as their SHA-256, never in clear', async () => {
    const { store, schema } = await freshStore();
    const { user, apiKey } = await store.createUser({ name: 'bob', role: 'admin' });
    const rows = await pool.query<Record<string, unknown>>(`SELECT * FROM "${schema}".users`);
    expect(rows.rows).toHaveLength(1);
    const stored = JSON.stringify(rows.rows);
    expect(stored).not.toContain(apiKey);
    expect(stored).not.toContain(apiKey.slice(3));
    expect(rows.rows[0]).toMatchObject({ id: user.id, api_key_sha256: createHash('sha256').update(apiKey).digest('hex') });
  });

  it('finds nobody for an unknown, malformed or empty key', async () => {
    const { store } = await freshStore();
    const { apiKey } = await store.createUser({ name: 'carol', role: 'user' });
    expect(await store.findByKey(newApiKey())).toBeUndefined();
    expect(await store.findByKey('')).toBeUndefined();
    expect(await store.findByKey(apiKey.slice(0, -1))).toBeUndefined();
    expect(await store.findByKey(`${apiKey}x`)).toBeUndefined();
    expect(await store.findByKey(createHash('sha256').update(apiKey).digest('hex'))).toBeUndefined();
    expect(await store.findById('user_nobody')).toBeUndefined();
  });

  it('refuses a bad role or name, naming the field, and stores nothing', async () => {
    const { store, schema } = await freshStore();
    const refused = async (input: { name: string; role: string }) => {
      const err = await store.createUser(input as never).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InvalidUserError);
      return (err as InvalidUserError).errors.map((e) => e.field);
    };
    expect(await refused({ name: 'dave', role: 'root' })).toEqual(['role']);
    expect(await refused({ name: '', role: 'user' })).toEqual(['name']);
    expect(await refused({ name: '   ', role: 'user' })).toEqual(['name']);
    expect(await refused({ name: 'x'.repeat(101), role: 'user' })).toEqual(['name']);
    expect(await refused({ name: '', role: 'superuser' })).toEqual(['name', 'role']);
    expect(await countRows(pool, schema)).toBe(0);
    // 100 characters (code points, as the API's schema counts them) is still fine.
    await expect(store.createUser({ name: '\u{1F600}'.repeat(100), role: 'user' })).resolves.toBeDefined();
  });

  it('migrates once when several replicas open the same schema at once', async () => {
    const schema = `users_test_${suffix()}`;
    schemas.push(schema);
    const opened = await Promise.all([1, 2, 3].map(() => openUserStore({ pool, schema })));
    stores.push(...opened);
    const versions = await pool.query(`SELECT version FROM "${schema}".users_migrations`);
    expect(versions.rows).toEqual([{ version: 1 }, { version: 2 }]);
    const { apiKey } = await opened[0]!.createUser({ name: 'erin', role: 'auditor' });
    expect((await opened[2]!.findByKey(apiKey))?.name).toBe('erin');
  });

  it('keeps each user in a tier: default unless given, moved by setTier; a malformed tier name is refused', async () => {
    const { store } = await freshStore();
    const plain = await store.createUser({ name: 'gina', role: 'user' });
    expect(plain.user.tier).toBe('default');
    const pro = await store.createUser({ name: 'hal', role: 'user', tier: 'pro' });
    expect((await store.findByKey(pro.apiKey))?.tier).toBe('pro');
    expect((await store.setTier(plain.user.id, 'pro'))?.tier).toBe('pro');
    expect((await store.findById(plain.user.id))?.tier).toBe('pro');
    expect(await store.setTier('user_' + 'f'.repeat(32), 'pro')).toBeUndefined();
    await expect(store.setTier(plain.user.id, 'Not A Tier')).rejects.toThrow(/tier: must be a tier name/);
    await expect(store.createUser({ name: 'ivy', role: 'user', tier: '' })).rejects.toThrow(/tier: must be a tier name/);
  });

  describe('development keys', () => {
    it('the first start creates a dev admin and a dev user and writes their keys to dev-keys.json, mode 0600', async () => {
      const { store, schema } = await freshStore();
      const dataDir = tmpDir('devkeys');
      const first = await store.ensureDevKeys(dataDir);
      if (!first.created) throw new Error('expected the first call to create the keys');
      expect(first.file).toBe(path.join(dataDir, 'dev-keys.json'));

      const stat = fs.statSync(first.file);
      expect(stat.mode & 0o777).toBe(0o600);
      const onDisk = JSON.parse(fs.readFileSync(first.file, 'utf8')) as Record<string, string>;
      expect(onDisk).toEqual({ admin: first.keys.admin, user: first.keys.user });
      expect((await store.findByKey(onDisk.admin!))?.role).toBe('admin');
      expect((await store.findByKey(onDisk.user!))?.role).toBe('user');
      expect(first.admin.role).toBe('admin');
      expect(first.user.role).toBe('user');
      // Atomic write: no temporary file is left beside it.
      expect(fs.readdirSync(dataDir)).toEqual(['dev-keys.json']);

      const second = await store.ensureDevKeys(dataDir);
      expect(second).toEqual({ created: false, file: first.file });
      expect(await countRows(pool, schema)).toBe(2);
      expect(fs.readFileSync(first.file, 'utf8')).toBe(JSON.stringify(onDisk, null, 2) + '\n');
    });

    it('replicas starting at once create exactly one pair', async () => {
      const schema = `users_test_${suffix()}`;
      schemas.push(schema);
      const replicas = await Promise.all([1, 2, 3, 4].map(() => openUserStore({ pool, schema })));
      stores.push(...replicas);
      const dataDir = tmpDir('devkeys-race');
      const results = await Promise.all(replicas.map((r) => r.ensureDevKeys(dataDir)));
      const created = results.filter((r) => r.created);
      expect(created).toHaveLength(1);
      expect(await countRows(pool, schema)).toBe(2);
      const onDisk = JSON.parse(fs.readFileSync(path.join(dataDir, 'dev-keys.json'), 'utf8')) as { admin: string };
      expect((await replicas[3]!.findByKey(onDisk.admin))?.role).toBe('admin');
    });

    it('creates none where users already exist', async () => {
      const { store, schema } = await freshStore();
      await store.createUser({ name: 'frank', role: 'admin' });
      const dataDir = tmpDir('devkeys-existing');
      expect(await store.ensureDevKeys(dataDir)).toEqual({ created: false, file: path.join(dataDir, 'dev-keys.json') });
      expect(fs.existsSync(path.join(dataDir, 'dev-keys.json'))).toBe(false);
      expect(await countRows(pool, schema)).toBe(1);
    });

    it('commits no users when the key file cannot be written, so the next start tries again', async () => {
      const { store, schema } = await freshStore();
      const notADir = path.join(tmpDir('devkeys-fail'), 'a-file');
      fs.writeFileSync(notADir, 'in the way');
      await expect(store.ensureDevKeys(notADir)).rejects.toThrow();
      expect(await countRows(pool, schema)).toBe(0);

      const dataDir = tmpDir('devkeys-retry');
      expect((await store.ensureDevKeys(dataDir)).created).toBe(true);
      expect(await countRows(pool, schema)).toBe(2);
    });
  });
});

// ---- npm run user:create ------------------------------------------------------------------------------------------

/** `npm run user:create -- <args>`, as it runs after the bootstrap. */
const userCreate = (args: string[], env: Record<string, string | undefined>) => runScript('scripts/user-create.ts', args, env);

describe('npm run user:create', () => {
  // A database of its own: the script uses the default `app` schema, which this test must not share.
  const database = `rf_usercreate_${suffix()}`;
  let admin: PgPool;
  let db: PgPool;
  let databaseUrl: string;
  let store: UserStore | undefined;

  beforeAll(async () => {
    admin = createPgPool({ connectionString: testEnv.embeddedPgUrl, max: 1 });
    await admin.query(`CREATE DATABASE "${database}"`);
    const url = new URL(testEnv.embeddedPgUrl);
    url.pathname = `/${database}`;
    databaseUrl = url.toString();
    db = createPgPool({ connectionString: databaseUrl, max: 1 });
  });

  /** Opened after the script ran once, so that run found an empty database and migrated it itself. */
  async function users(): Promise<UserStore> {
    store ??= await openUserStore({ pool: db });
    return store;
  }

  afterAll(async () => {
    await store?.close();
    await db?.end();
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  });

  it('creates a user in the database of DATABASE_URL and prints {id, name, role, tier, api_key} as JSON', async () => {
    const run = await userCreate(['--role', 'user', '--name', 'alice'], { DATABASE_URL: databaseUrl, DATA_DIR: tmpDir('usercreate') });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout) as Record<string, string>;
    expect(printed).toEqual({ id: expect.stringMatching(/^user_/), name: 'alice', role: 'user', tier: 'default', api_key: expect.stringMatching(/^rf_/) });
    expect(await (await users()).findByKey(printed.api_key!)).toMatchObject({ id: printed.id, name: 'alice', role: 'user' });
  });

  it('puts the user in a tier TIERS_FILE defines', async () => {
    const dataDir = tmpDir('usercreate-tier');
    const tiersFile = path.join(dataDir, 'tiers.json');
    fs.writeFileSync(tiersFile, JSON.stringify({ tiers: { pro: { gpu_weight: 4 } } }));
    const run = await userCreate(['--role', 'user', '--name', 'petra', '--tier', 'pro'], {
      DATABASE_URL: databaseUrl,
      DATA_DIR: dataDir,
      TIERS_FILE: tiersFile,
    });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toMatchObject({ name: 'petra', tier: 'pro' });
  });

  it('without DATABASE_URL, uses the database that the running `npm start` recorded in $DATA_DIR/runtime.json', async () => {
    const dataDir = tmpDir('usercreate-runtime');
    fs.writeFileSync(path.join(dataDir, 'runtime.json'), JSON.stringify({ supervisorPid: 1, dataDir, databaseUrl, postgres: { url: databaseUrl } }), {
      mode: 0o600,
    });
    const run = await userCreate(['--role=moderator', '--name=mo'], { DATABASE_URL: undefined, DATA_DIR: dataDir });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout) as Record<string, string>;
    expect(printed).toMatchObject({ name: 'mo', role: 'moderator' });
    expect((await (await users()).findByKey(printed.api_key!))?.id).toBe(printed.id);
  });

  it('says clearly what is wrong with a bad role, a missing name, or no database, and creates nothing', async () => {
    const dataDir = tmpDir('usercreate-bad');
    const badRole = await userCreate(['--role', 'root', '--name', 'x'], { DATABASE_URL: databaseUrl, DATA_DIR: dataDir });
    expect(badRole.code).toBe(2);
    expect(badRole.stdout).toBe('');
    expect(badRole.stderr).toMatch(/--role must be one of user, moderator, auditor, admin/);

    const noName = await userCreate(['--role', 'user'], { DATABASE_URL: databaseUrl, DATA_DIR: dataDir });
    expect(noName.code).toBe(2);
    expect(noName.stderr).toMatch(/--name is required/);
    expect(noName.stderr).toMatch(/usage: npm run user:create/);

    const noDatabase = await userCreate(['--role', 'user', '--name', 'x'], { DATABASE_URL: undefined, DATA_DIR: dataDir });
    expect(noDatabase.code).toBe(1);
    expect(noDatabase.stdout).toBe('');
    expect(noDatabase.stderr).toMatch(/DATABASE_URL is not set/);
    expect(noDatabase.stderr).toMatch(/npm start/);

    const unknownTier = await userCreate(['--role', 'user', '--name', 'x', '--tier', 'gold'], { DATABASE_URL: databaseUrl, DATA_DIR: dataDir });
    expect(unknownTier.code).toBe(2);
    expect(unknownTier.stderr).toMatch(/--tier "gold" is not a tier of this deployment; the tiers are default \(TIERS_FILE\)/);

    await users();
    const named = await db.query(`SELECT 1 FROM app.users WHERE name = 'x'`);
    expect(named.rowCount).toBe(0);
  });
});

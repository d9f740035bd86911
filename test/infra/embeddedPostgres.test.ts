// The embedded PostgreSQL of a checkout the server's user cannot enter. As root, PostgreSQL runs as the user postgres
// (it refuses root); in a clone under root's home (mode 700) that user reaches neither the binaries in node_modules
// nor DATA_DIR. The start must work anyway, without touching the folder's mode: a private copy of the binaries, the
// cluster kept outside and found again on the next start.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import pino from 'pino';
import { defaultNativeDir, startEmbeddedPostgres, type EmbeddedPostgres } from '../../infra/postgres/embedded';
import { isAlive } from '../../infra/processes';

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function uidOf(pid: number): number {
  const line = fs
    .readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Uid:'))!;
  return Number(line.split(/\s+/)[1]);
}

const alive = isAlive;

/** A logger whose lines the test can read. */
function capturingLogger(): { logger: pino.Logger; messages: string[] } {
  const messages: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) messages.push((JSON.parse(line) as { msg: string }).msg);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), messages };
}

async function query(server: EmbeddedPostgres, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: server.connectionString });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

// Only root runs PostgreSQL as another user; as anyone else the server runs as oneself and reaches what one reaches.
const rootOnly = asRoot ? it : it.skip;
if (!asRoot) process.stderr.write('[embeddedPostgres.test] skipped: not root, so PostgreSQL runs as this user and no folder is out of its reach\n');

describe('embedded PostgreSQL in a folder its server user cannot enter (as root)', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-pg-700-'));
  fs.chmodSync(base, 0o755);
  const home = path.join(base, 'home');
  const servers: EmbeddedPostgres[] = [];

  afterAll(async () => {
    await Promise.allSettled(servers.map((s) => s.stop(2000)));
    fs.rmSync(base, { recursive: true, force: true });
  });

  rootOnly('runs from a private copy of the binaries, keeps the cluster outside, finds it again, and a new DATA_DIR starts afresh', async () => {
    // A checkout in a mode-700 folder: the binaries and DATA_DIR both inside.
    fs.mkdirSync(home, { mode: 0o700 });
    fs.chmodSync(home, 0o700);
    const nativeDir = path.join(home, 'native');
    fs.cpSync(defaultNativeDir(), nativeDir, { recursive: true, verbatimSymlinks: true });
    const dataDir = path.join(home, 'data');
    const options = { dataDir, port: 0, nativeDir, binaryCacheDir: path.join(base, 'cache'), clusterHome: path.join(base, 'clusters') };

    // --- first start: a copy is made, the cluster is created outside, each said in one line --------------------
    const first = capturingLogger();
    const one = await startEmbeddedPostgres({ ...options, logger: first.logger });
    servers.push(one);
    const copyLines = first.messages.filter((m) => m.includes('private copy of the binaries'));
    expect(copyLines).toHaveLength(1);
    expect(copyLines[0]).toMatch(
      new RegExp(`cannot reach ${nativeDir}: using a private copy of the binaries in ${options.binaryCacheDir}/reelforge-postgres-[0-9a-f]{16} \\(made now\\)`),
    );
    const clusterLines = first.messages.filter((m) => m.includes('its cluster lives in'));
    expect(clusterLines).toEqual([
      `PostgreSQL runs as the user postgres, who cannot enter ${dataDir}: its cluster lives in ${one.dataDir} (${dataDir}/postgres links there)`,
    ]);
    expect(path.dirname(one.dataDir)).toBe(options.clusterHome);
    expect(fs.readlinkSync(path.join(dataDir, 'postgres'))).toBe(one.dataDir);
    // The server runs as the postgres user, from the copy.
    expect(uidOf(one.pid)).not.toBe(0);
    const copy = path.dirname(path.dirname(fs.readlinkSync(`/proc/${one.pid}/exe`)));
    expect(copy).toMatch(new RegExp(`^${options.binaryCacheDir}/reelforge-postgres-[0-9a-f]{16}$`));
    expect(fs.statSync(copy).uid).toBe(0);
    await query(one, 'CREATE TABLE kept (note text); INSERT INTO kept VALUES ($$survives a restart$$)');
    await one.stop();
    expect(alive(one.pid)).toBe(false);

    // --- second start: the same copy and the same cluster, with its data ------------------------------------------
    const second = capturingLogger();
    const two = await startEmbeddedPostgres({ ...options, logger: second.logger });
    servers.push(two);
    expect(second.messages.filter((m) => m.includes('private copy of the binaries'))).toEqual([copyLines[0]!.replace('(made now)', '(made earlier)')]);
    expect(two.dataDir).toBe(one.dataDir);
    expect(await query(two, 'SELECT note FROM kept')).toEqual([{ note: 'survives a restart' }]);
    await two.stop();

    // --- DATA_DIR emptied (to start afresh): a fresh cluster, not the old one -----------------------------------
    fs.rmSync(dataDir, { recursive: true, force: true });
    const three = await startEmbeddedPostgres(options);
    servers.push(three);
    expect(three.dataDir).toBe(one.dataDir);
    expect(await query(three, "SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'kept'")).toEqual([{ n: 0 }]);
    await three.stop();

    // Nothing was opened up: the folder is as private as before.
    expect(fs.statSync(home).mode & 0o777).toBe(0o700);
  });
});

// A real S3-compatible server on this machine for tests and benchmarks: moto's server (`python -m moto.server`, from
// the test suite's Python, which `node scripts/bootstrap.js --test` installs from scripts/python-requirements.txt),
// listening on 127.0.0.1 only. moto keeps everything in memory: a restart starts it empty, with its buckets made again.
import { spawn, type ChildProcess } from 'node:child_process';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import type { AwsSettings } from '../../infra/config';
import { createS3Client } from '../../infra/blobs';
import { freePort } from '../../infra/postgres/embedded';
import { readTools } from '../../infra/tools';

export interface S3Server {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly port: number;
  /** The server process's pid (its CPU time, for bench:scaling); undefined while stopped. */
  readonly pid: number | undefined;
  /** What a client needs to reach it (moto takes any key; these are fixed). */
  readonly aws: AwsSettings;
  /** A client of this server. */
  client(): S3Client;
  createBucket(bucket: string): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s); the port is free again once this resolves. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty, and makes the buckets it was started with again. */
  restart(): Promise<void>;
  /** The last lines it printed, for a failure message. */
  output(): string;
}

export interface S3ServerOptions {
  /** Buckets to make once it answers (and again after each restart). */
  buckets?: readonly string[];
  /** Defaults to the test suite's Python from .tools/tools.json. */
  python?: string;
  /** How long to wait for it to answer; 30 s unless told. */
  startTimeoutMs?: number;
}

export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  const python = options.python ?? readTools().python?.path;
  if (!python) throw new Error('no Python with moto: run `node scripts/bootstrap.js --test` (it installs scripts/python-requirements.txt)');
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const aws: AwsSettings = { region: 'us-east-1', endpoint, credentials: { accessKeyId: 'reelforge-test', secretAccessKey: 'reelforge-test-secret' } };
  const tail: string[] = [];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let s3: S3Client | undefined;
  const client = () => (s3 ??= createS3Client(aws));

  const createBucket = async (bucket: string) => {
    await client().send(new CreateBucketCommand({ Bucket: bucket }));
  };

  const launch = async () => {
    const proc = spawn(python, ['-m', 'moto.server', '--host', '127.0.0.1', '--port', String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
    });
    child = proc;
    for (const stream of [proc.stdout, proc.stderr]) {
      stream?.setEncoding('utf8').on('data', (text: string) => {
        tail.push(...text.split('\n').filter(Boolean));
        tail.splice(0, Math.max(0, tail.length - 30));
      });
    }
    let gone: string | undefined;
    exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        gone = signal ? `signal ${signal}` : `code ${code}`;
        resolve();
      });
      proc.once('error', (err) => {
        gone = err.message;
        resolve();
      });
    });
    const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
    for (;;) {
      if (gone) throw new Error(`the S3 server (moto) exited (${gone}) before it answered on ${endpoint}:\n${tail.join('\n')}`);
      if (await answers(endpoint)) break;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`the S3 server (moto) did not answer on ${endpoint} within ${options.startTimeoutMs ?? 30_000} ms:\n${tail.join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const bucket of options.buckets ?? []) await createBucket(bucket);
  };

  const stop = async () => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killer);
  };

  await launch();
  return {
    endpoint,
    port,
    get pid() {
      return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
    },
    aws,
    client,
    createBucket,
    stop: async () => {
      await stop();
      s3?.destroy();
      s3 = undefined;
    },
    restart: async () => {
      await stop();
      await launch();
    },
    output: () => tail.join('\n'),
  };
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(endpoint, { signal: AbortSignal.timeout(1_000) });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

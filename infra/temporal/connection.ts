// Connections to the Temporal server named by config: a lazy client for the API (with its readiness probe), and a
// native connection for workers, with the SDK runtime's logs sent to pino.
import fs from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { Tracing } from '../telemetry/tracing';
import { tracingClientInterceptors } from './tracing';

type TemporalSettings = Pick<Config, 'temporalAddress' | 'temporalDevPort' | 'temporalNamespace'> & Partial<Pick<Config, 'temporalTls' | 'temporalApiKey'>>;

/** TEMPORAL_ADDRESS, else the local dev server on its configured port (what `npm start` runs). */
export function temporalAddress(config: Pick<Config, 'temporalAddress' | 'temporalDevPort'>): string {
  return config.temporalAddress ?? `127.0.0.1:${config.temporalDevPort}`;
}

/** TLS and the API key of TEMPORAL_TLS* / TEMPORAL_API_KEY, as both kinds of connection take them; {} without. */
export function temporalConnectionOptions(config: Partial<Pick<Config, 'temporalTls' | 'temporalApiKey'>>): {
  tls?: { clientCertPair?: { crt: Buffer; key: Buffer }; serverRootCACertificate?: Buffer; serverNameOverride?: string };
  apiKey?: string;
} {
  const tls = config.temporalTls;
  const read = (file: string, what: string): Buffer => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new Error(`cannot read ${what} ${file}: ${(err as Error).message}`);
    }
  };
  return {
    ...(config.temporalApiKey ? { apiKey: config.temporalApiKey } : {}),
    ...(tls
      ? {
          tls: {
            ...(tls.certPath && tls.keyPath
              ? { clientCertPair: { crt: read(tls.certPath, 'TEMPORAL_TLS_CERT_PATH'), key: read(tls.keyPath, 'TEMPORAL_TLS_KEY_PATH') } }
              : {}),
            ...(tls.caPath ? { serverRootCACertificate: read(tls.caPath, 'TEMPORAL_TLS_CA_PATH') } : {}),
            ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
          },
        }
      : {}),
  };
}

export interface TemporalClient {
  address: string;
  namespace: string;
  connection: Connection;
  client: Client;
  /** The readiness round trip; rejects within `timeoutMs` when the server does not answer. */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A client whose connection is made on first use, so a process can start (and report itself not ready) while
 * Temporal is still down; gRPC reconnects by itself once the server is back.
 */
export function connectTemporalClient(config: TemporalSettings, options: { tracing?: Tracing } = {}): TemporalClient {
  const address = temporalAddress(config);
  const secure = temporalConnectionOptions(config);
  const connection = Connection.lazy({ address, ...secure });
  // With tracing on, each workflow started carries the active span (infra/temporal/tracing.ts).
  const client = new Client({ connection, namespace: config.temporalNamespace, interceptors: tracingClientInterceptors(options.tracing) });
  // Readiness probes go through a connection without the SDK's retry interceptor: a probe answers "down" at its
  // deadline instead of retrying, and leaves no retry timer behind that would fire on a closed channel later.
  const probe = Connection.lazy({ address, ...secure, interceptors: [] });
  return {
    address,
    namespace: config.temporalNamespace,
    connection,
    client,
    ping: (timeoutMs) => pingTemporal(probe, config.temporalNamespace, timeoutMs),
    close: async () => {
      await Promise.all([connection.close(), probe.close()]);
    },
  };
}

/**
 * A cheap round trip that also proves the namespace exists: the dev server registers namespaces only after its
 * gRPC port opens, so "port open" alone is not "ready".
 */
export async function pingTemporal(connection: Connection, namespace: string, timeoutMs = 2000): Promise<void> {
  await connection.withDeadline(Date.now() + timeoutMs, () => connection.workflowService.describeNamespace({ namespace }));
}

const PINO_LEVEL = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

let runtimeInstalled = false;

/**
 * The native connection a Worker needs. The first call installs the SDK runtime with its logs (the Rust core's
 * too) going to `logger`, and without the runtime's own signal handlers: each entry point stops its worker itself.
 */
export async function connectTemporalWorker(config: TemporalSettings, logger: Logger): Promise<NativeConnection> {
  const { DefaultLogger, NativeConnection, Runtime } = await import('@temporalio/worker');
  if (!runtimeInstalled) {
    const temporalLogger = logger.child({ component: 'temporal-sdk' });
    const level = logger.levelVal <= 20 ? 'DEBUG' : logger.levelVal <= 30 ? 'INFO' : 'WARN';
    Runtime.install({
      logger: new DefaultLogger(level, (entry) => temporalLogger[PINO_LEVEL[entry.level]](entry.meta ?? {}, entry.message)),
      telemetryOptions: { logging: { filter: { core: 'WARN', other: 'WARN' }, forward: {} } },
      shutdownSignals: [],
    });
    runtimeInstalled = true;
  }
  return NativeConnection.connect({ address: temporalAddress(config), ...temporalConnectionOptions(config) });
}

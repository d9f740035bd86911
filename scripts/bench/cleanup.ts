// Shutdown for bench scripts: every resource registers its release as soon as it exists, so an error or Ctrl-C
// part-way still stops what the run started (servers it spawned would otherwise outlive it), last in, first out.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

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

  /**
   * SIGINT and SIGTERM stop what the run started and exit 130, saying so through `log`; returns what stops listening.
   * With it, the temporary folder the run works in (as root the embedded PostgreSQL runs as the postgres user, who
   * must be able to enter it), removed last.
   */
  begin(log: (line: string) => void, tmpPrefix: string): { tmp: string; stopListening: () => void } {
    this.stopOnCrash();
    const onSignal = (signal: NodeJS.Signals) => {
      log(`${signal}: cleaning up`);
      void this.run().finally(() => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
    fs.chmodSync(tmp, 0o755);
    this.push('remove temp folder', async () => fs.rmSync(tmp, { recursive: true, force: true }));
    return {
      tmp,
      stopListening: () => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      },
    };
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

// Stops what test/globalSetup.ts started and removes its temporary folder.
import fs from 'node:fs';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { EmbeddedPostgres } from '../infra/postgres/embedded';

export default async function globalTeardown(): Promise<void> {
  const shared = (globalThis as Record<string, unknown>).__reelforge as
    | { pgs: EmbeddedPostgres[]; env: TestWorkflowEnvironment; tmp: string }
    | undefined;
  if (!shared) return;
  await Promise.allSettled([shared.env.teardown(), ...shared.pgs.map((pg) => pg.stop())]);
  fs.rmSync(shared.tmp, { recursive: true, force: true });
}

// Stops what test/globalSetup.ts started (its watchdog last) and removes its temporary folder.
import fs from 'node:fs';
import { holdingTheLoop, type SharedServers } from './globalSetup';

export default function globalTeardown(): Promise<void> {
  return holdingTheLoop(async () => {
    const shared = (globalThis as Record<string, unknown>).__reelforge as SharedServers | undefined;
    if (!shared) return;
    await shared.stack.stop();
    fs.rmSync(shared.tmp, { recursive: true, force: true });
  });
}

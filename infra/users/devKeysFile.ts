// `$DATA_DIR/dev-keys.json`: the first start's development keys, readable only by their owner, written atomically so
// a crash never leaves a half-written or world-readable file behind.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DevKeys } from './port';

export const DEV_KEYS_FILENAME = 'dev-keys.json';

export function devKeysPath(dataDir: string): string {
  return path.join(dataDir, DEV_KEYS_FILENAME);
}

/** Writes a temporary file created with mode 0600 (never readable by others, not even briefly), then renames it. */
export function writeDevKeysFile(dataDir: string, keys: DevKeys): string {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = devKeysPath(dataDir);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fd = fs.openSync(tmp, 'wx', 0o600);
    try {
      fs.writeFileSync(fd, `${JSON.stringify({ admin: keys.admin, user: keys.user }, null, 2)}\n`);
      // The mode given to open is narrowed by the umask, never widened; chmod makes it exactly 0600 either way.
      fs.fchmodSync(fd, 0o600);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  syncDirectory(dataDir);
  return file;
}

/** Makes the rename itself durable; best effort, since some file systems refuse to fsync a directory. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // not supported here; the rename is still atomic
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

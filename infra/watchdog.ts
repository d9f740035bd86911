// A tiny process that stops servers when the process that started them disappears without stopping them (SIGKILL,
// a crash, a test runner that exits without its teardown). Used by `npm start`'s supervisor and the tests' set-up.
import { spawn } from 'node:child_process';

/**
 * When its stdin closes (the parent is gone: the pipe's only writer was the parent), it sends each watched process its
 * signal, waits up to 10 s, SIGKILLs what is left, then exits. It ignores SIGINT, SIGTERM and SIGHUP: a terminal's
 * Ctrl-C reaches the whole process group, and the parent, not this, decides how to stop then. Watch requests come as
 * JSON lines on the same pipe (no IPC channel, so nothing but the pipe ties it to the parent).
 */
const WATCHDOG_SOURCE = `
  const watched = new Map();
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => undefined);
  let pending = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try { const m = JSON.parse(line); watched.set(m.name, m); } catch {}
    }
  });
  process.stdin.on('end', () => {
    const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    for (const w of watched.values()) { try { process.kill(w.pid, w.signal); } catch {} }
    const deadline = Date.now() + 10000;
    const t = setInterval(() => {
      const left = [...watched.values()].filter((w) => alive(w.pid));
      if (left.length > 0 && Date.now() < deadline) return;
      for (const w of left) { try { process.kill(w.pid, 'SIGKILL'); } catch {} }
      clearInterval(t);
      process.exit(0);
    }, 100);
  });
`;

export class Watchdog {
  private readonly child = spawn(process.execPath, ['-e', WATCHDOG_SOURCE], { stdio: ['pipe', 'ignore', 'inherit'] });

  /** `unref`: it does not keep the parent's event loop alive (a test runner must be free to exit; this then acts). */
  constructor(options: { unref?: boolean } = {}) {
    // A parent that cannot spawn it carries on unwatched rather than crashing on an unhandled 'error'.
    this.child.on('error', () => undefined);
    this.child.stdin.on('error', () => undefined);
    if (options.unref) {
      this.child.unref();
      (this.child.stdin as unknown as { unref?: () => void }).unref?.();
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** `name` identifies the entry: watching the same name again replaces it (a restarted server). Resolves once
   * the message is handed to the channel. */
  watch(name: string, pid: number, signal: NodeJS.Signals): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null || !this.child.stdin.writable) return resolve();
      this.child.stdin.write(`${JSON.stringify({ name, pid, signal })}\n`, () => resolve());
    });
  }

  /** Waits for it to be gone, so that "the parent exited" means "nothing of it is left". */
  async dispose(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise((resolve) => this.child.once('exit', resolve));
    // An unref'd child's exit does not hold the event loop: without this the awaiting caller (jest's teardown) could
    // see its process end with exit code 0 in the middle of the await.
    this.child.ref();
    this.child.kill('SIGKILL');
    await gone;
  }
}

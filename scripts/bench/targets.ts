// Issue #20's targets as bench:pipeline reports them: each measured value beside its goal, PASS or MISS, or n/a with
// the reason (a phase the flags skipped, a number this run could not measure). A verdict, not an exit code: a loaded
// machine should still give its numbers.
import { fmt, renderTable } from './table';

/** The goals, in the units the rows print. */
export const TARGET_GOALS = {
  /** Platform CPU-s (all roles, the servers included, less the direct run's) per second of video. */
  cpuPerVideoSecond: { op: '<=', value: 0.1, unit: 'CPU-s' },
  /** Inference time / (the burst's GPU window x GPU_CONCURRENCY), for a burst of 20 videos. */
  gpuBusy: { op: '>=', value: 0.95, unit: '' },
  /** End-to-end less the direct render and mux, 4 s 256x256, median. */
  addedLatencySmall: { op: '<=', value: 300, unit: 'ms' },
  /** The same for 12 s 720x1280, as a share of the direct render. */
  addedLatencyLarge: { op: '<=', value: 5, unit: '%' },
  /** POST to first playable preview, 4 s 720x1280, median. */
  firstPlayable: { op: '<=', value: 1000, unit: 'ms' },
} as const satisfies Record<string, Goal>;

/** The burst the issue measures the GPU busy fraction on. */
export const GPU_BUSY_BURST = 20;

export interface Goal {
  op: '<=' | '>=';
  value: number;
  unit: string;
}

export interface TargetRow {
  target: string;
  /** In the goal's unit; null when not measured. */
  measured: number | null;
  goal: Goal;
  verdict: 'PASS' | 'MISS' | 'n/a';
  /** Why the verdict is n/a, or what qualifies the number. */
  note?: string;
}

/** A measured row: PASS or MISS by its goal; a value that is not a finite number is n/a, saying why. */
export function judged(target: string, measured: number, goal: Goal, unmeasured = 'not measured'): TargetRow {
  if (!Number.isFinite(measured)) return { target, measured: null, goal, verdict: 'n/a', note: unmeasured };
  const pass = goal.op === '<=' ? measured <= goal.value : measured >= goal.value;
  return { target, measured, goal, verdict: pass ? 'PASS' : 'MISS' };
}

/** A number measured under other conditions than the target's (a smaller burst): shown, not judged. */
export function unjudged(target: string, measured: number, goal: Goal, why: string): TargetRow {
  return { target, measured: Number.isFinite(measured) ? measured : null, goal, verdict: 'n/a', note: why };
}

/** A row with no number: the phase did not run (the flags) or could not be measured (`why`). */
export function notMeasured(target: string, goal: Goal, why: string): TargetRow {
  return { target, measured: null, goal, verdict: 'n/a', note: why };
}

/** A value in its unit; a goal with the decimals the issue writes it with, a measurement with one more. */
function show(value: number, unit: string, extra = 0): string {
  if (unit === 'CPU-s') return `${fmt(value, 2 + extra)} CPU-s`;
  if (unit === 'ms') return value >= 1000 ? `${fmt(value / 1000, 1 + extra)} s` : `${fmt(value)} ms`;
  if (unit === '%') return `${fmt(value, extra)} %`;
  return fmt(value, 2 + extra);
}

/** Notes this long (a failure's message) are cut in the table; the JSON keeps them whole. */
const NOTE_CHARS = 100;

export function renderTargets(rows: readonly TargetRow[]): string {
  const note = (text: string) => (text.length > NOTE_CHARS ? `${text.slice(0, NOTE_CHARS - 1)}…` : text);
  return renderTable(
    ['target', 'measured', 'goal', 'verdict'],
    rows.map((r) => [
      r.target,
      r.measured === null ? '' : show(r.measured, r.goal.unit, 1),
      `${r.goal.op === '<=' ? '≤' : '≥'} ${show(r.goal.value, r.goal.unit)}`,
      r.verdict === 'n/a' ? `n/a — ${note(r.note ?? 'not measured')}` : r.note ? `${r.verdict} (${note(r.note)})` : r.verdict,
    ]),
    ['l', 'r', 'r', 'l'],
  );
}

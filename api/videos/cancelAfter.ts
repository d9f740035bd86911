// Deadlines on the routes that start a generation: the `Cancel-After` header (Replicate's) and the `deadline` body
// field. A job not done by its deadline is cancelled, ending `cancelled` with error `deadline_exceeded`; one still
// waiting then never reaches a GPU. Cancel-After is a duration: whole seconds (`90`), or Go-style units (`45s`, `5m`,
// `1h30m`), from 1 s to 24 h; `deadline` is a time, Unix seconds, from 1 s to 24 h ahead. With both, the sooner wins.
import { ProblemError } from '../plugins/errors';

export const MAX_CANCEL_AFTER_S = 24 * 3600;
const UNIT_S: Readonly<Record<string, number>> = { h: 3600, m: 60, s: 1 };

/** The header's duration in seconds, or undefined without one; a value that is not one is a 400 naming the header. */
export function cancelAfterSeconds(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const raw = (Array.isArray(header) ? header.join(',') : header).trim();
  let seconds: number | undefined;
  if (/^\d{1,6}$/.test(raw)) seconds = Number(raw);
  else if (/^(\d{1,6}h)?(\d{1,6}m)?(\d{1,6}s)?$/.test(raw) && raw !== '') {
    seconds = 0;
    for (const [, n, unit] of raw.matchAll(/(\d+)([hms])/g)) seconds += Number(n) * UNIT_S[unit!]!;
  }
  if (seconds === undefined || seconds < 1 || seconds > MAX_CANCEL_AFTER_S) {
    const why = `must be a duration from 1 s to 24 h: whole seconds (90) or units (45s, 5m, 1h30m)`;
    throw new ProblemError({
      status: 400,
      code: 'validation_failed',
      detail: `Cancel-After: ${JSON.stringify(raw)} ${why}`,
      errors: [{ field: 'Cancel-After', message: why }],
    });
  }
  return seconds;
}

/** Why `deadline` (Unix seconds) is refused at `now`, or undefined when it is a whole second 1 s to 24 h ahead. */
export function deadlineProblem(deadline: number, now: number): string | undefined {
  if (!Number.isInteger(deadline)) return 'must be a time in Unix seconds (a whole number)';
  if (deadline <= now) return `must be in the future (it is ${deadline}; now is ${now})`;
  if (deadline > now + MAX_CANCEL_AFTER_S) return `must be at most 24 h ahead (it is ${deadline - now} s ahead)`;
  return undefined;
}

/** The job's deadline (Unix seconds): the sooner of Cancel-After from `arrivedS` and the `deadline` field; undefined with neither. */
export function deadlineAt(arrivedS: number, cancelAfter: number | undefined, deadline: number | null | undefined): number | undefined {
  const fromHeader = cancelAfter === undefined ? undefined : arrivedS + cancelAfter;
  if (deadline === null || deadline === undefined) return fromHeader;
  return fromHeader === undefined ? deadline : Math.min(fromHeader, deadline);
}

// `Cancel-After` on POST /v1/videos (Replicate's header): a job not done this long after its request is cancelled,
// ending `cancelled` with error `deadline_exceeded`; one still waiting then never reaches a GPU. The value is a
// duration: whole seconds (`90`), or Go-style units (`45s`, `5m`, `1h30m`), from 1 s to 24 h.
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

// The moderation queue's read model: one row per case (`moderation-<case id>` streams), with where it stands (open,
// awaiting review, escalated, closed), what it is about and whose content it is, so GET /v1/moderation/cases lists a
// status without reading every case stream. A case's whole record (every event, the classifiers' scores, the frames
// by key) is read from its stream by GET /v1/moderation/cases/{id}, which never lags.
import type { RecordedEvent } from '../infra/eventstore/port';
import { field, MalformedEvent, optionalString } from './engagement';
import type { ReadModel } from './projection';
import { quoteSchema, type SqlClient } from './store';

export const MODERATION_CASES_READ_MODEL = 'moderation_cases';
const PREFIX = 'moderation-';
const TYPES = new Set(['CaseOpened', 'AutomatedVerdict', 'ReviewRequested', 'CaseEscalated', 'ReviewDecided', 'Appealed', 'CaseClosed', 'CaseWithdrawn']);

/** What each event sets on the row (besides updated_at and last_revision). */
function changes(event: RecordedEvent): Record<string, unknown> | undefined {
  const rm = MODERATION_CASES_READ_MODEL;
  const data = event.data as Record<string, unknown>;
  switch (event.type) {
    case 'AutomatedVerdict': {
      const verdict = field(rm, event, 'verdict', 'string');
      if (!Array.isArray(data.categories)) throw new MalformedEvent(rm, event, 'data.categories must be an array');
      return { verdict, categories: JSON.stringify(data.categories) };
    }
    case 'ReviewRequested':
      return { status: 'awaiting_review' };
    case 'CaseEscalated':
      return { status: 'escalated', escalated: true };
    case 'ReviewDecided':
      return { verdict: field(rm, event, 'decision', 'string'), decided_by: optionalString(rm, event, 'moderator_id') };
    case 'Appealed':
      return { status: 'awaiting_review', appealed: true, escalated: false };
    case 'CaseClosed':
      return { status: 'closed', verdict: field(rm, event, 'verdict', 'string') };
    case 'CaseWithdrawn':
      return { status: 'closed' };
    default:
      return undefined;
  }
}

export function createModerationCasesReadModel(): ReadModel {
  return {
    name: MODERATION_CASES_READ_MODEL,
    version: 1,
    tables: ['moderation_cases'],
    async migrate(client: SqlClient, schema: string) {
      const s = quoteSchema(schema);
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${s}.moderation_cases (
          case_id text COLLATE "C" PRIMARY KEY,
          video_id text NOT NULL,
          owner_id text,
          kind text NOT NULL,
          status text NOT NULL,
          verdict text,
          categories jsonb NOT NULL DEFAULT '[]',
          decided_by text,
          escalated boolean NOT NULL DEFAULT false,
          appealed boolean NOT NULL DEFAULT false,
          opened_at bigint NOT NULL,
          updated_at bigint NOT NULL,
          -- The case stream's revision last folded in: a redelivered event changes nothing.
          last_revision bigint NOT NULL
        );
        CREATE INDEX IF NOT EXISTS moderation_cases_queue ON ${s}.moderation_cases (status, opened_at, case_id);`);
    },
    handles: (type, stream) => stream.startsWith(PREFIX) && TYPES.has(type),
    async apply(client: SqlClient, event: RecordedEvent, schema: string) {
      const s = quoteSchema(schema);
      const rm = MODERATION_CASES_READ_MODEL;
      const at = field(rm, event, 'at', 'number');
      const revision = event.revision.toString();
      if (event.type === 'CaseOpened') {
        await client.query(
          `INSERT INTO ${s}.moderation_cases (case_id, video_id, owner_id, kind, status, opened_at, updated_at, last_revision)
           VALUES ($1, $2, $3, $4, 'open', $5, $5, $6) ON CONFLICT (case_id) DO NOTHING`,
          [
            field(rm, event, 'case_id', 'string'),
            field(rm, event, 'subject_id', 'string'),
            optionalString(rm, event, 'owner_id'),
            field(rm, event, 'stage', 'string'),
            at,
            revision,
          ],
        );
        return;
      }
      const set = changes(event);
      if (!set) return;
      const columns = Object.keys(set);
      const assignments = columns.map((c, i) => `${c} = $${i + 4}${c === 'categories' ? '::jsonb' : ''}`);
      await client.query(
        `UPDATE ${s}.moderation_cases SET ${assignments.join(', ')}, updated_at = $2, last_revision = $3
         WHERE case_id = $1 AND last_revision < $3`,
        [event.streamName.slice(PREFIX.length), at, revision, ...columns.map((c) => set[c])],
      );
    },
  };
}

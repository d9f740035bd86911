// Determinism against recorded histories: every history under test/fixtures/histories (recorded from real runs by
// `npm run fixtures:record`) replays against the workflow code of this build, so a change that would break running
// workflows fails here before it is deployed. A deliberately non-deterministic change, made in a temporary copy of the
// workflows, is caught with a message naming the command and the event that differ; the patched() change of
// publishWorkflow replays both its old and its new history, which the same change without patched() cannot.
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PROJECT_ROOT } from '../../infra/tools';
import { parseHistory, replayHistory, type WorkflowCode } from '../../infra/temporal/replay';
import * as workflows from '../../workflows';
import { testEnv } from '../support/env';

const HISTORIES = path.join(PROJECT_ROOT, 'test', 'fixtures', 'histories');

interface FixtureEntry {
  file: string;
  workflow_type: string;
  workflow_id: string;
  path: string;
  before_patch?: string;
  before_change?: string;
}

const index = JSON.parse(fs.readFileSync(path.join(HISTORIES, 'index.json'), 'utf8')) as FixtureEntry[];
const entry = (file: string) => index.find((e) => e.file === file)!;
const historyOf = (file: string) => parseHistory(fs.readFileSync(path.join(HISTORIES, file), 'utf8'));
const current = (): WorkflowCode => ({ workflowBundle: { codePath: testEnv.workflowBundlePath } });

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/**
 * The workflows copied to a temporary folder, `edits` applied (file name → [text to find, its replacement]), and
 * bundled. What the workflows import from the rest of the project (domain/, infra/, the activities' types) and
 * node_modules are links to this checkout's. An edit whose text is not found fails, so a refactored workflow cannot
 * make the test pass by changing nothing.
 */
async function bundleChangedCopy(edits: Record<string, [string, string][]>): Promise<WorkflowCode> {
  const root = fs.mkdtempSync(path.join(testEnv.tmpDir, 'changed-workflows-'));
  fs.cpSync(path.join(PROJECT_ROOT, 'workflows'), path.join(root, 'workflows'), { recursive: true });
  for (const dir of ['domain', 'infra', 'activities', 'gpu-workers', 'node_modules']) fs.symlinkSync(path.join(PROJECT_ROOT, dir), path.join(root, dir));
  for (const [file, replacements] of Object.entries(edits)) {
    const target = path.join(root, 'workflows', file);
    let source = fs.readFileSync(target, 'utf8');
    for (const [find, replace] of replacements) {
      if (!source.includes(find)) throw new Error(`workflows/${file} no longer contains ${JSON.stringify(find)}: update this test's edit`);
      source = source.replace(find, replace);
    }
    fs.writeFileSync(target, source);
  }
  const { code } = await bundleWorkflowCode({ workflowsPath: path.join(root, 'workflows', 'index.ts'), logger: quietLogger });
  return { workflowBundle: { code } };
}

describe('recorded workflow histories', () => {
  it('cover every workflow type and the notable paths of a video', () => {
    const types = new Set(index.map((e) => e.workflow_type));
    const exported = Object.keys(workflows).filter((name) => name.endsWith('Workflow'));
    expect(exported.filter((name) => !types.has(name))).toEqual([]);
    for (const file of [
      'generation-completed-published',
      'generation-cancelled',
      'generation-blocked-prompt',
      'generation-blocked-cameo-revoked',
      'generation-gpu-worker-killed',
      'generation-remix',
      'generation-extension',
      'generation-review-allowed',
      'generation-resumed',
    ]) {
      expect(entry(`${file}.json`)).toMatchObject({ workflow_type: 'generationWorkflow' });
    }
    // The GPU worker killed mid-chunk: the chunk's second attempt is in the history.
    const retried = historyOf('generation-gpu-worker-killed.json').events!.filter((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1);
    expect(retried.length).toBeGreaterThan(0);
  });

  describe('replay deterministically against the current workflow code', () => {
    it.each(index.map((e) => [e.file, e] as const))('%s', async (file, fixture) => {
      const history = historyOf(file);
      const report = await replayHistory(history, current(), fixture.workflow_id);
      expect(report).toEqual({
        deterministic: true,
        workflow_type: fixture.workflow_type,
        workflow_id: fixture.workflow_id,
        events_replayed: history.events!.length,
        error: null,
      });
    });
  });
});

describe('a workflow change that issues different commands', () => {
  let changed: WorkflowCode;
  /** Every patched() change without its guard. */
  let unguarded: WorkflowCode;
  /** The live-preview change without its guard (alone: with the others, the first command to differ would be another). */
  let previewUnguarded: WorkflowCode;
  /** The moderation-inline change without its guard. */
  let promptUnguarded: WorkflowCode;

  beforeAll(async () => {
    [changed, unguarded, previewUnguarded, promptUnguarded] = await Promise.all([
      bundleChangedCopy({
        // The generation reads the video's stream before anything else: a command the recorded histories do not have.
        'generation.ts': [
          ['  const requested = run.apply(', '  await readVideoStream({ stream: `video-${request.video_id}` });\n  const requested = run.apply('],
        ],
      }),
      bundleChangedCopy({
        'publish.ts': [["patched('publish-cameo-uses-in-one-activity')", 'true']],
        'moderation.ts': [["patched('prompt-case-in-one-append')", 'true']],
        'generation.ts': [['patched(OUTPUT_SAFETY_PATCH)', 'true']],
      }),
      bundleChangedCopy({ 'generation.ts': [['patched(LIVE_PREVIEW_PATCH)', 'true']] }),
      bundleChangedCopy({ 'generation.ts': [['patched(MODERATION_INLINE_PATCH)', 'true']] }),
    ]);
  }, 90_000);

  it('is caught replaying a completed video, with the command and the history event that differ named', async () => {
    const file = 'generation-completed-published.json';
    const report = await replayHistory(historyOf(file), changed, entry(file).workflow_id);
    expect(report.deterministic).toBe(false);
    expect(report.workflow_type).toBe('generationWorkflow');
    expect(report.events_replayed).toBeLessThan(historyOf(file).events!.length);
    expect(report.error).toMatch(/readVideoStream/);
    expect(report.error).toMatch(/appendEvents/);
    expect(report.error).toMatch(/History event \d+ is ActivityTaskScheduled of activity appendEvents\./);
    expect(report.error).toMatch(/patched\(\)/);
  });

  describe("publishWorkflow's patched() change", () => {
    it('replays the history recorded before the patch and the one recorded after it', async () => {
      const before = entry('publish-with-cameo-before-patch.json');
      expect(before.before_patch).toBe('publish-cameo-uses-in-one-activity');
      const old = historyOf(before.file);
      const activities = (h: typeof old) => h.events!.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
      expect(activities(old)).toContain('publishCameoUse');
      const recent = historyOf('publish-with-cameo.json');
      expect(activities(recent)).toContain('publishCameoUses');
      expect(activities(recent)).not.toContain('publishCameoUse');
      for (const [history, id] of [
        [old, before.workflow_id],
        [recent, entry('publish-with-cameo.json').workflow_id],
      ] as const) {
        expect(await replayHistory(history, current(), id)).toMatchObject({ deterministic: true, error: null });
      }
    });

    it('is what lets the old history replay: the same change without patched() does not', async () => {
      const before = entry('publish-with-cameo-before-patch.json');
      const report = await replayHistory(historyOf(before.file), unguarded, before.workflow_id);
      expect(report.deterministic).toBe(false);
      expect(report.error).toMatch(/publishCameoUses/);
      expect(report.error).toMatch(/History event \d+ is ActivityTaskScheduled of activity publishCameoUse\b/);
    });
  });
  // Two changes took appends off the path to the first chunk. The prompt's case in one append changed the
  // moderation workflow's commands: its old history replays only because of the guard.
  it('moderation-prompt-before-patch.json replays only with the prompt-case-in-one-append guard; the history after it has one append', async () => {
    const before = entry('moderation-prompt-before-patch.json');
    expect(before.before_patch).toBe('prompt-case-in-one-append');
    const appends = (f: string) => historyOf(f).events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'appendEvents').length;
    expect([appends(before.file), appends('moderation-prompt.json')]).toEqual([2, 1]);
    const report = await replayHistory(historyOf(before.file), unguarded, before.workflow_id);
    expect(report.deterministic).toBe(false);
    expect(report.error).toMatch(/Nondeterminism/);
  });

  // The safety classifier scores each chunk on the GPU queue: a new activity command in generationWorkflow, guarded.
  describe("generationWorkflow's output-safety patch", () => {
    const scheduled = (file: string) =>
      historyOf(file)
        .events!.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
        .filter(Boolean);

    it('replays the history recorded before the patch (no scoring) and the one after it (each chunk scored)', async () => {
      const before = entry('generation-completed-published-before-output-safety.json');
      expect(before.before_patch).toBe('output-safety');
      expect(scheduled(before.file)).not.toContain('scoreSegmentSafety');
      const after = 'generation-completed-published-before-live-preview.json';
      expect(scheduled(after).filter((a) => a === 'scoreSegmentSafety')).toHaveLength(1);
      for (const file of [before.file, after]) {
        expect(await replayHistory(historyOf(file), current(), entry(file).workflow_id)).toMatchObject({ deterministic: true, error: null });
      }
    });

    it('is what lets the old history replay: the same change without patched() does not', async () => {
      const before = entry('generation-completed-published-before-output-safety.json');
      const report = await replayHistory(historyOf(before.file), unguarded, before.workflow_id);
      expect(report.deterministic).toBe(false);
      expect(report.error).toMatch(/scoreSegmentSafety/);
    });

    it("the output case's history after it runs the safety verdict beside the flash analysis; the one before, flashes only", () => {
      const markers = (file: string) =>
        historyOf(file)
          .events!.map((e) => e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data)
          .filter(Boolean)
          .map((data) => (typeof data === 'string' ? Buffer.from(data, 'base64') : Buffer.from(data as Uint8Array)).toString('utf8'));
      expect(scheduled('moderation-output-before-output-safety.json')).toContain('checkOutputFlashes');
      expect(markers('moderation-output-before-output-safety.json').join()).not.toContain('checkOutputSafety');
      expect(scheduled('moderation-output.json')).toContain('checkOutputFlashes');
      expect(markers('moderation-output.json').join()).toContain('checkOutputSafety');
    });
  });

  // The live preview renders each chunk in one GPU activity and checks it (a local activity): new commands, guarded.
  describe("generationWorkflow's live-preview patch", () => {
    const scheduled = (file: string) =>
      historyOf(file)
        .events!.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
        .filter(Boolean);

    it('replays the history recorded before it (four GPU activities a chunk) and the one after it (renderChunk, its check, one append)', async () => {
      const before = entry('generation-completed-published-before-live-preview.json');
      expect(before.before_patch).toBe('live-preview');
      expect(scheduled(before.file)).toEqual(expect.arrayContaining(['renderVideoChunk', 'renderAudioChunk', 'measureSegmentFlashes', 'scoreSegmentSafety']));
      const after = scheduled('generation-completed-published.json');
      expect(after).not.toContain('renderVideoChunk');
      expect(after.filter((a) => a === 'renderChunk')).toHaveLength(1);
      // The chunk's appends, between its first GPU activity and the mux: its video and its audio apart before, one after.
      const chunkAppends = (f: string) => {
        const all = scheduled(f);
        const first = all.findIndex((a) => a === 'renderVideoChunk' || a === 'renderChunk');
        return all.slice(first, all.indexOf('muxVideo')).filter((a) => a === 'appendEvents').length;
      };
      expect([chunkAppends(before.file), chunkAppends('generation-completed-published.json')]).toEqual([2, 1]);
      for (const file of [before.file, 'generation-completed-published.json']) {
        expect(await replayHistory(historyOf(file), current(), entry(file).workflow_id)).toMatchObject({ deterministic: true, error: null });
      }
    });

    it('is what lets the old history replay: the same change without patched() does not', async () => {
      const before = entry('generation-completed-published-before-live-preview.json');
      const report = await replayHistory(historyOf(before.file), previewUnguarded, before.workflow_id);
      expect(report.deterministic).toBe(false);
      expect(report.error).toMatch(/renderChunk/);
    });
  });

  // The prompt and the output judged in the generation workflow (local activities, each case appended from there): no
  // child, guarded.
  describe("generationWorkflow's moderation-inline patch", () => {
    const children = (file: string) =>
      historyOf(file)
        .events!.map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name)
        .filter(Boolean);

    it('the history after it starts no case child; the one before, two (the prompt and the output)', () => {
      expect(children('generation-completed-published-before-live-preview.json').filter((c) => c === 'moderationWorkflow')).toHaveLength(2);
      expect(children('generation-completed-published.json')).not.toContain('moderationWorkflow');
      expect(entry('moderation-prompt.json').before_change).toBe('moderation-inline');
      expect(entry('moderation-output.json').before_change).toBe('moderation-inline');
    });

    it('is what lets the old history replay: the same change without patched() does not', async () => {
      const before = entry('generation-completed-published-before-live-preview.json');
      const report = await replayHistory(historyOf(before.file), promptUnguarded, before.workflow_id);
      expect(report.deterministic).toBe(false);
      expect(report.error).toMatch(/Nondeterminism|moderationWorkflow|appendEvents/);
    });
  });

  // The generation's GPU work beside its appends sends the same commands a workflow task earlier: no guard, and the
  // history from before the change replays (with every other, above).
  it('generation: the scene is described in the workflow task that appends the verdict, where it used to wait for that append', () => {
    const before = entry('generation-completed-published-before-change.json');
    expect(before.before_change).toBe('gpu-work-beside-appends');
    /** The workflow task that scheduled each activity, in order. */
    const scheduled = (f: string) =>
      historyOf(f)
        .events!.filter((e) => e.activityTaskScheduledEventAttributes)
        .map((e) => ({
          type: e.activityTaskScheduledEventAttributes!.activityType!.name,
          task: String(e.activityTaskScheduledEventAttributes!.workflowTaskCompletedEventId),
        }));
    const taskOfVerdictAndScene = (f: string) => {
      const all = scheduled(f);
      const describe = all.findIndex((a) => a.type === 'describeVideoScene');
      const verdict = all
        .slice(0, describe)
        .reverse()
        .find((a) => a.type === 'appendEvents')!;
      return verdict.task === all[describe]!.task;
    };
    expect(taskOfVerdictAndScene(before.file)).toBe(false);
    expect(taskOfVerdictAndScene('generation-completed-published.json')).toBe(true);
  });
});

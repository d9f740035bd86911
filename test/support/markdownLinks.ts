// Checks the links of a folder's Markdown files: every relative link (and image) must resolve to a file or folder
// inside the folder, and a `#fragment` into a Markdown file must name one of its headings. Web links (http, https,
// mailto) are left alone; anything else that would leave the folder (`../` past its root, an absolute path, file://)
// is reported. What a clone of the repository has is what its documents may point to.
import fs from 'node:fs';
import path from 'node:path';

export interface LinkProblem {
  /** The Markdown file, relative to the root. */
  file: string;
  line: number;
  target: string;
  problem: string;
}

/** Folders never searched: dependencies, tools, local state and VCS data, none of which a clone carries. */
const SKIPPED_DIRS = new Set(['node_modules', '.git', '.tools', '.data', 'bench-results', 'coverage', 'dist']);
const WEB = /^(https?:|mailto:)/i;

/** Every `.md` file under `root`, relative to it, in a stable order. */
export function markdownFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name) && !entry.name.startsWith('.')) walk(path.join(dir, entry.name));
      } else if (entry.isFile() && entry.name.toLowerCase().endsWith('.md')) {
        found.push(path.relative(root, path.join(dir, entry.name)));
      }
    }
  };
  walk(root);
  return found;
}

/**
 * The lines outside fenced code blocks: `text` with inline code blanked out, so examples are not read as links, and
 * `raw` as written (headings keep their code in their anchors).
 */
function proseLines(text: string): Array<{ line: number; text: string; raw: string }> {
  const lines: Array<{ line: number; text: string; raw: string }> = [];
  let fence: string | undefined;
  text.split('\n').forEach((raw, i) => {
    const marker = /^\s*(```+|~~~+)/.exec(raw)?.[1];
    if (marker) {
      if (fence === undefined) fence = marker[0]!;
      else if (marker[0] === fence) fence = undefined;
      return;
    }
    if (fence !== undefined) return;
    lines.push({ line: i + 1, raw, text: raw.replace(/`+[^`]*`+/g, (code) => ' '.repeat(code.length)) });
  });
  return lines;
}

/** Link targets of a line: inline links and images `[..](target "title")`, and reference definitions `[x]: target`. */
function targetsOf(line: string): string[] {
  const targets: string[] = [];
  for (const m of line.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+"[^"]*")?\s*\)/g)) targets.push(m[1]!.replace(/^<|>$/g, ''));
  const definition = /^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/.exec(line);
  if (definition) targets.push(definition[1]!.replace(/^<|>$/g, ''));
  return targets;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens; repeats get -1, -2, ... */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { raw } of proseLines(markdown)) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(raw);
    if (!heading) continue;
    const base = heading[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Every link of the Markdown files under `root` that does not resolve inside it. */
export function checkMarkdownLinks(root: string): LinkProblem[] {
  const problems: LinkProblem[] = [];
  const rootDir = path.resolve(root);
  for (const file of markdownFiles(rootDir)) {
    const source = path.join(rootDir, file);
    const text = fs.readFileSync(source, 'utf8');
    for (const { line, text: prose } of proseLines(text)) {
      for (const target of targetsOf(prose)) {
        const report = (problem: string) => problems.push({ file, line, target, problem });
        if (WEB.test(target)) continue;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
          report('is a link to something outside the repository');
          continue;
        }
        if (target.startsWith('/')) {
          report('is an absolute path; link relative to the file instead');
          continue;
        }
        const hash = target.indexOf('#');
        const linkPath = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
        const fragment = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
        const resolved = linkPath === '' ? source : path.resolve(path.dirname(source), linkPath);
        const inside = path.relative(rootDir, resolved);
        if (inside.startsWith('..') || path.isAbsolute(inside)) {
          report('leaves the repository');
          continue;
        }
        if (!fs.existsSync(resolved)) {
          report(`names ${inside}, which does not exist`);
          continue;
        }
        if (fragment && resolved.toLowerCase().endsWith('.md') && !headingAnchors(fs.readFileSync(resolved, 'utf8')).has(fragment)) {
          report(`names #${fragment}, which is no heading of ${inside}`);
        }
      }
    }
  }
  return problems;
}

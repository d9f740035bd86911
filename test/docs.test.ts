// The repository documents itself: its Markdown links resolve inside a clone, and the documents the README promises
// are there.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkMarkdownLinks, headingAnchors } from './support/markdownLinks';

const ROOT = path.resolve(__dirname, '..');

describe('the repository documentation', () => {
  it('links only to files and headings inside the repository', () => {
    expect(checkMarkdownLinks(ROOT)).toEqual([]);
  });

  it('has the architecture and API documents, a licence matching package.json, and a changelog', () => {
    for (const file of ['docs/architecture.md', 'docs/api.md', 'CHANGELOG.md']) expect(fs.statSync(path.join(ROOT, file)).size).toBeGreaterThan(0);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { license: string };
    expect(pkg.license).toBe('Apache-2.0');
    const licence = fs.readFileSync(path.join(ROOT, 'LICENSE'), 'utf8');
    expect(licence).toContain('Apache License');
    expect(licence).toContain('Version 2.0, January 2004');
    expect(licence).toContain('END OF TERMS AND CONDITIONS');
  });
});

describe('the Markdown link check', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-links-'));
    fs.mkdirSync(path.join(dir, 'docs'));
    fs.writeFileSync(path.join(dir, 'docs', 'guide.md'), '# Guide\n\n## Getting started\n');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const problemsOf = (readme: string) => {
    fs.writeFileSync(path.join(dir, 'README.md'), readme);
    return checkMarkdownLinks(dir).map((p) => `${p.file}:${p.line} ${p.target} ${p.problem}`);
  };

  it('accepts relative links to files and headings that exist, web links, and links inside code', () => {
    const readme = [
      '# Title',
      'See [the guide](docs/guide.md), [its start](docs/guide.md#getting-started), [above](#title) and [a site](https://example.org).',
      '![folder](docs/)',
      '`[not a link](../outside.md)`',
      '```',
      '[not a link either](../../shared/DESIGN.md)',
      '```',
    ].join('\n');
    expect(problemsOf(readme)).toEqual([]);
  });

  it('reports a link that leaves the repository, a missing file, a missing heading and an absolute path', () => {
    const readme = [
      '[design](../shared/DESIGN.md)',
      '[api](docs/api.md)',
      '[part](docs/guide.md#nowhere)',
      '[root](/etc/passwd)',
      '[file](file:///etc/passwd)',
    ].join('\n');
    expect(problemsOf(readme)).toEqual([
      'README.md:1 ../shared/DESIGN.md leaves the repository',
      'README.md:2 docs/api.md names docs/api.md, which does not exist',
      'README.md:3 docs/guide.md#nowhere names #nowhere, which is no heading of docs/guide.md',
      'README.md:4 /etc/passwd is an absolute path; link relative to the file instead',
      'README.md:5 file:///etc/passwd is a link to something outside the repository',
    ]);
  });

  it('makes heading anchors as GitHub does', () => {
    expect([...headingAnchors('# Layers: which folder may import which\n## Feed, likes, views and lineage\n## Feed, likes, views and lineage\n')]).toEqual([
      'layers-which-folder-may-import-which',
      'feed-likes-views-and-lineage',
      'feed-likes-views-and-lineage-1',
    ]);
  });
});

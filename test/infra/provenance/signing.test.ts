// What a deployment is given to sign content credentials with: the development folder `npm run c2pa:dev-chain` writes,
// and the check the orchestration worker makes at start (signingProblem).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { signingProblem } from '../../../infra/provenance/c2pa';
import { writeDevSigningFolder } from '../../../infra/provenance/devChain';

describe('the signing folder a deployment mounts', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-signing-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('holds the leaf key and the chain (leaf, then its CA) only, readable by another uid, and is kept when there', () => {
    const folder = path.join(dir, 'c2pa');
    const chain = writeDevSigningFolder(folder);
    expect(chain).toEqual({ keyPath: path.join(folder, 'signer.key'), certsPath: path.join(folder, 'chain.pem'), created: true });
    expect(fs.readdirSync(folder).sort()).toEqual(['chain.pem', 'signer.key']);
    for (const file of [chain.keyPath, chain.certsPath]) expect(fs.statSync(file).mode & 0o444).toBe(0o444);
    expect(fs.statSync(folder).mode & 0o555).toBe(0o555);
    const subjects = execFileSync('openssl', ['crl2pkcs7', '-nocrl', '-certfile', chain.certsPath], { encoding: 'utf8' });
    const printed = execFileSync('openssl', ['pkcs7', '-print_certs', '-noout'], { input: subjects, encoding: 'utf8' });
    expect(printed.match(/subject=.*/g)).toEqual([expect.stringContaining('development signer'), expect.stringContaining('development CA')]);
    const key = fs.readFileSync(chain.keyPath, 'utf8');
    expect(writeDevSigningFolder(folder).created).toBe(false);
    expect(fs.readFileSync(chain.keyPath, 'utf8')).toBe(key);
  });

  it('refuses a folder holding one of the pair without the other', () => {
    fs.writeFileSync(path.join(dir, 'chain.pem'), 'x');
    expect(() => writeDevSigningFolder(dir)).toThrow(/chain\.pem is there without its pair/);
  });

  it('lets the worker start only with a key and chain it can read, naming the variables otherwise', () => {
    const chain = writeDevSigningFolder(dir);
    expect(signingProblem({ c2paSigningKeyPath: chain.keyPath, c2paSigningCertsPath: chain.certsPath })).toBeUndefined();
    expect(signingProblem({})).toMatch(/^C2PA_SIGNING_KEY and C2PA_SIGNING_CERTS are not set/);
    expect(signingProblem({ c2paSigningKeyPath: chain.keyPath, c2paSigningCertsPath: path.join(dir, 'gone.pem') })).toMatch(
      /^C2PA_SIGNING_CERTS .*gone\.pem cannot be read by this process .*ENOENT/,
    );
  });
});

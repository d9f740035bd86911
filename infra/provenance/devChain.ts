// A development signing chain for content credentials: a local CA and an ES256 leaf it issued, made with the openssl
// CLI. `npm start` makes one under the data folder and says so; the tests make one in their tmp folder. Validators
// report it untrusted (no trust list names it): integrity is checked all the same. Production configures its own.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// What c2pa-rs asks of a signing certificate: an end entity (CA:false) with digitalSignature and an allowed extended
// key use (emailProtection here), issued by a CA rather than self-signed.
const EXTENSIONS = `[req]
distinguished_name=dn
[dn]
[ca]
basicConstraints=critical,CA:true
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
[leaf]
basicConstraints=critical,CA:false
keyUsage=critical,digitalSignature
extendedKeyUsage=emailProtection
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
`;

export interface SigningChain {
  keyPath: string;
  certsPath: string;
  /** False when an existing chain in the folder was reused. */
  created: boolean;
}

/** The file names of a signing folder: the leaf's key, and the chain (leaf first). deploy/ mounts a folder of these two. */
export const SIGNING_KEY_FILE = 'signer.key';
export const SIGNING_CERTS_FILE = 'chain.pem';

/** Makes (or reuses) a development chain in `dir`: signer.key (the leaf's key) and chain.pem (leaf, then CA). */
export function ensureDevSigningChain(dir: string): SigningChain {
  const keyPath = path.join(dir, SIGNING_KEY_FILE);
  const certsPath = path.join(dir, SIGNING_CERTS_FILE);
  if (fs.existsSync(keyPath) && fs.existsSync(certsPath)) return { keyPath, certsPath, created: false };
  fs.mkdirSync(dir, { recursive: true });
  const f = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  fs.writeFileSync(f('extensions.cnf'), EXTENSIONS);
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('ca.key'));
  openssl(
    'req',
    '-x509',
    '-new',
    '-key',
    f('ca.key'),
    '-sha256',
    '-days',
    '3650',
    '-subj',
    '/CN=reelforge development CA/O=reelforge (development)',
    '-config',
    f('extensions.cnf'),
    '-extensions',
    'ca',
    '-out',
    f('ca.pem'),
  );
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('signer.key.partial'));
  openssl('req', '-new', '-key', f('signer.key.partial'), '-subj', '/CN=reelforge development signer/O=reelforge (development)', '-out', f('signer.csr'));
  openssl(
    'x509',
    '-req',
    '-in',
    f('signer.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-sha256',
    '-days',
    '825',
    '-extfile',
    f('extensions.cnf'),
    '-extensions',
    'leaf',
    '-out',
    f('signer.pem'),
  );
  fs.writeFileSync(certsPath, fs.readFileSync(f('signer.pem'), 'utf8') + fs.readFileSync(f('ca.pem'), 'utf8'));
  fs.renameSync(f('signer.key.partial'), keyPath);
  return { keyPath, certsPath, created: true };
}

/**
 * A development chain's two files in `dir`, for a deployment to mount (deploy/compose.yaml's C2PA_SECRETS_DIR, the
 * chart's c2pa.existingSecret): signer.key and chain.pem only, the CA's key left behind in a temporary folder and
 * removed. Readable by every user (0644), since the image's user (uid 10001) is not the one making them: a development
 * key, untrusted anywhere. Existing files in `dir` are kept.
 */
export function writeDevSigningFolder(dir: string): SigningChain {
  const keyPath = path.join(dir, SIGNING_KEY_FILE);
  const certsPath = path.join(dir, SIGNING_CERTS_FILE);
  const present = [keyPath, certsPath].filter((f) => fs.existsSync(f));
  if (present.length === 2) return { keyPath, certsPath, created: false };
  if (present.length === 1)
    throw new Error(`${present[0]} is there without its pair: remove it, or add the other of ${SIGNING_KEY_FILE} and ${SIGNING_CERTS_FILE}`);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-c2pa-dev-'));
  try {
    const chain = ensureDevSigningChain(scratch);
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    fs.copyFileSync(chain.certsPath, certsPath);
    fs.copyFileSync(chain.keyPath, keyPath);
    for (const file of [certsPath, keyPath]) fs.chmodSync(file, 0o644);
    return { keyPath, certsPath, created: true };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

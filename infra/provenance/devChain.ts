// A development signing chain for content credentials: a local CA and an ES256 leaf it issued, made with the openssl
// CLI. `npm start` makes one under the data folder and says so; the tests make one in their tmp folder. Validators
// report it untrusted (no trust list names it): integrity is checked all the same. Production configures its own.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
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

/** Makes (or reuses) a development chain in `dir`: signer.key (the leaf's key) and chain.pem (leaf, then CA). */
export function ensureDevSigningChain(dir: string): SigningChain {
  const keyPath = path.join(dir, 'signer.key');
  const certsPath = path.join(dir, 'chain.pem');
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

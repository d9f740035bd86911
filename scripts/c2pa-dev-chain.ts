// `npm run c2pa:dev-chain -- <folder>`: writes a DEVELOPMENT content-credentials signing chain into <folder> (signer.key
// and chain.pem, what deploy/compose.yaml's C2PA_SECRETS_DIR and the chart's c2pa.existingSecret hold), for trying a
// deployment out. Its CA is local: validators report the manifests Valid but untrusted. Production brings its own.
import path from 'node:path';
import { writeDevSigningFolder } from '../infra/provenance/devChain';

const USAGE = 'usage: npm run c2pa:dev-chain -- <folder>   (writes <folder>/signer.key and <folder>/chain.pem)';

function main(): void {
  const args = process.argv.slice(2);
  if (args.length !== 1 || args[0] === '-h' || args[0] === '--help' || args[0]!.startsWith('-')) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(args[0] === '-h' || args[0] === '--help' ? 0 : 2);
  }
  const chain = writeDevSigningFolder(path.resolve(args[0]!));
  process.stdout.write(
    `${chain.created ? 'wrote' : 'kept the existing'} ${chain.keyPath} and ${chain.certsPath}: a DEVELOPMENT chain (a local CA, untrusted ` +
      'elsewhere), for trying a deployment out; production signs with a key and certificate chain of its own\n',
  );
}

main();

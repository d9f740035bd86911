// What a role hands the Temporal SDK to reach a server that wants TLS or an API key (infra/temporal/connection.ts).
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../infra/config';
import { temporalConnectionOptions } from '../../infra/temporal/connection';
import { testEnv } from '../support/env';

describe('Temporal connection options', () => {
  it('are empty for a plain-text server', () => {
    expect(temporalConnectionOptions(loadConfig({}))).toEqual({});
  });

  it('carry the API key with TLS on, and the PEM files of a client certificate and a private CA', () => {
    const dir = fs.mkdtempSync(path.join(testEnv.tmpDir, 'temporal-tls-'));
    for (const name of ['client.pem', 'client.key', 'ca.pem']) fs.writeFileSync(path.join(dir, name), `-----BEGIN ${name}-----\n`);
    expect(temporalConnectionOptions(loadConfig({ TEMPORAL_API_KEY: 'key-1' }))).toEqual({ apiKey: 'key-1', tls: {} });
    const options = temporalConnectionOptions(
      loadConfig({
        TEMPORAL_TLS_CERT_PATH: path.join(dir, 'client.pem'),
        TEMPORAL_TLS_KEY_PATH: path.join(dir, 'client.key'),
        TEMPORAL_TLS_CA_PATH: path.join(dir, 'ca.pem'),
        TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
      }),
    );
    expect(options.tls?.clientCertPair?.crt.toString()).toBe('-----BEGIN client.pem-----\n');
    expect(options.tls?.clientCertPair?.key.toString()).toBe('-----BEGIN client.key-----\n');
    expect(options.tls?.serverRootCACertificate?.toString()).toBe('-----BEGIN ca.pem-----\n');
    expect(options.tls?.serverNameOverride).toBe('temporal.internal');
  });

  it('name the variable whose file cannot be read', () => {
    const config = loadConfig({ TEMPORAL_TLS_CERT_PATH: '/nonexistent/c.pem', TEMPORAL_TLS_KEY_PATH: '/nonexistent/k.pem' });
    expect(() => temporalConnectionOptions(config)).toThrow(/^cannot read TEMPORAL_TLS_CERT_PATH \/nonexistent\/c.pem: ENOENT/);
  });
});

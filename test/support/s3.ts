// S3 for the tests: moto's server from the shared harness, and the endpoint S3_TEST_URL names, when it is set.
import { ConfigError, loadConfig, type AwsSettings } from '../../infra/config';
import { testEnv } from './env';

export { startS3Server, type S3Server } from '../../scripts/harness/s3Server';

export interface S3Target {
  bucket: string;
  prefix: string;
  aws: AwsSettings;
}

/** S3_TEST_URL read as BLOB_URL is, with the same AWS_* variables (credentials, AWS_REGION, AWS_ENDPOINT_URL_S3). */
export function s3TestTarget(): S3Target | undefined {
  const url = testEnv.s3TestUrl;
  if (url === undefined) return undefined;
  let config;
  try {
    config = loadConfig({ ...process.env, BLOB_URL: url });
  } catch (err) {
    if (err instanceof ConfigError && err.variable === 'BLOB_URL') throw new Error(err.message.replace('BLOB_URL', 'S3_TEST_URL'));
    throw err;
  }
  if (config.blobs.kind !== 's3') throw new Error(`S3_TEST_URL=${url}: expected s3://bucket/prefix`);
  return { bucket: config.blobs.bucket, prefix: config.blobs.prefix, aws: config.aws };
}

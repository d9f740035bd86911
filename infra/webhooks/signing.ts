// Standard Webhooks signing (https://www.standardwebhooks.com), as OpenAI's SDKs verify it (`webhooks.unwrap`):
// secrets are `whsec_` + base64 of 32 random bytes; a delivery carries `webhook-id`, `webhook-timestamp` (Unix seconds)
// and `webhook-signature`, `v1,` + base64(HMAC-SHA256(secret bytes, `${id}.${timestamp}.${body}`)), one per secret still
// valid, separated by spaces (the old and the new secret for 24 h after a rotation that kept the old one).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;

/** A new signing secret: `whsec_` + base64 of 32 random bytes. */
export function newSigningSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** What the API shows instead of a secret: its prefix and its last four characters (`whsec_...abcd`). */
export function signingSecretHint(secret: string): string {
  return `${SECRET_PREFIX}...${secret.slice(-4)}`;
}

/** The key bytes of a `whsec_` secret; anything else is not one of ours. */
export function secretKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error('a webhook signing secret starts with whsec_');
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
  if (key.length === 0) throw new Error('a webhook signing secret has key bytes after whsec_');
  return key;
}

/** One `v1,<base64>` signature of `${id}.${timestamp}.${body}`. */
export function signature(secret: string, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', secretKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

// A type rather than an interface, so it is assignable to the SDKs' header records as it is.
export type WebhookHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

/** The three Standard Webhooks headers of a delivery of `body` signed with each of `secrets` (newest first). */
export function signDelivery(options: { id: string; timestamp: number; body: string; secrets: readonly string[] }): WebhookHeaders {
  if (options.secrets.length === 0) throw new Error('a delivery needs at least one signing secret');
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(options.id)) throw new Error(`invalid webhook-id ${JSON.stringify(options.id)}`);
  if (!Number.isSafeInteger(options.timestamp) || options.timestamp < 0) throw new Error(`invalid webhook timestamp ${options.timestamp}`);
  return {
    'webhook-id': options.id,
    'webhook-timestamp': String(options.timestamp),
    'webhook-signature': options.secrets.map((s) => signature(s, options.id, options.timestamp, options.body)).join(' '),
  };
}

/**
 * Whether one of the signatures in `signatureHeader` is `secret`'s for this id, timestamp and body (constant-time).
 * For tests and receivers written in this codebase; it does not check the timestamp's age.
 */
export function signatureMatches(secret: string, headers: WebhookHeaders, body: string): boolean {
  const expected = Buffer.from(signature(secret, headers['webhook-id'], Number(headers['webhook-timestamp']), body));
  return headers['webhook-signature'].split(' ').some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

// The Standard Webhooks signer against the official OpenAI Node SDK's verifier (`client.webhooks.unwrap`), which is
// what a receiver built on it runs unchanged.
import OpenAI from 'openai';
import { newSigningSecret, signDelivery, signingSecretHint, signatureMatches } from '../../../infra/webhooks/signing';

const client = new OpenAI({ apiKey: 'x' });
const body = JSON.stringify({ id: 'evt_1', object: 'event', type: 'video.completed', created_at: 1_700_000_000, data: { id: 'video_1' } });
const now = () => Math.floor(Date.now() / 1000);

describe('the webhook signer', () => {
  it('makes whsec_ secrets of 32 random bytes, and a hint of their last four characters', () => {
    const secret = newSigningSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    expect(newSigningSecret()).not.toBe(secret);
    expect(signingSecretHint(secret)).toBe(`whsec_...${secret.slice(-4)}`);
  });

  it('signs v1,base64(HMAC-SHA256) of id.timestamp.body (the Standard Webhooks test vector)', () => {
    // https://github.com/standard-webhooks/standard-webhooks/blob/main/libraries/javascript/src/index.test.ts
    const headers = signDelivery({
      id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      timestamp: 1614265330,
      body: '{"test": 2432232314}',
      secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    });
    expect(headers).toEqual({
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    });
  });

  it("makes a delivery the OpenAI Node SDK's unwrap verifies and parses", async () => {
    const secret = newSigningSecret();
    const headers = signDelivery({ id: 'msg_abc', timestamp: now(), body, secrets: [secret] });
    await expect(client.webhooks.unwrap(body, headers, secret)).resolves.toEqual(JSON.parse(body));
    expect(signatureMatches(secret, headers, body)).toBe(true);
  });

  it('refuses a tampered body, another secret and a stale timestamp', async () => {
    const secret = newSigningSecret();
    const headers = signDelivery({ id: 'msg_abc', timestamp: now(), body, secrets: [secret] });
    const tampered = body.replace('video_1', 'video_2');
    await expect(client.webhooks.unwrap(tampered, headers, secret)).rejects.toThrow(/signature/i);
    expect(signatureMatches(secret, headers, tampered)).toBe(false);
    await expect(client.webhooks.unwrap(body, headers, newSigningSecret())).rejects.toThrow(/signature/i);
    const stale = signDelivery({ id: 'msg_abc', timestamp: now() - 600, body, secrets: [secret] });
    await expect(client.webhooks.unwrap(body, stale, secret)).rejects.toThrow(/too old/);
  });

  it('signs with every secret still valid, space-separated, so either verifies (a rotation that kept the old one)', async () => {
    const [newer, older] = [newSigningSecret(), newSigningSecret()];
    const headers = signDelivery({ id: 'msg_two', timestamp: now(), body, secrets: [newer, older] });
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    await expect(client.webhooks.unwrap(body, headers, newer)).resolves.toBeDefined();
    await expect(client.webhooks.unwrap(body, headers, older)).resolves.toBeDefined();
  });

  it('refuses to sign without a secret, with a secret not whsec_, or with a bad id', () => {
    expect(() => signDelivery({ id: 'msg_x', timestamp: 1, body, secrets: [] })).toThrow(/at least one/);
    expect(() => signDelivery({ id: 'msg_x', timestamp: 1, body, secrets: ['plain'] })).toThrow(/whsec_/);
    expect(() => signDelivery({ id: 'msg x', timestamp: 1, body, secrets: [newSigningSecret()] })).toThrow(/webhook-id/);
  });
});

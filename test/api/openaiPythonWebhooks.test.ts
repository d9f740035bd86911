// The official openai Python SDK against /v1/webhook_endpoints: test/python/test_openai_webhooks.py under pytest in the
// bootstrap's venv, against the API on the jest run's PostgreSQL with WEBHOOK_ALLOWED_HOSTS=127.0.0.1 (the script's
// receiver listens there; nothing is sent anywhere else). Fails with pytest's own report when any of it fails.
import { runPytest } from '../support/pytest';
import { startWebhookApi } from '../support/webhookApi';

describe('the official openai Python SDK on webhook endpoints', () => {
  let api: Awaited<ReturnType<typeof startWebhookApi>>;

  beforeAll(async () => {
    api = await startWebhookApi();
  });
  afterAll(async () => {
    await api?.stop();
  });

  it('creates, retrieves, lists, updates, tests (verified by the SDK), rotates, refuses a private address and deletes (pytest)', async () => {
    const { apiKey } = await api.users.createUser({ name: 'python-webhooks-user', role: 'user' });
    const output = await runPytest('test/python/test_openai_webhooks.py', { baseUrl: `${api.url}/v1`, apiKey });
    expect(output).toMatch(/\b8 passed\b/);
  }, 120_000);
});

// The official openai Python SDK (openai-python, pinned in scripts/python-requirements.txt) against the real stack:
// test/python/test_openai_sdk.py runs under pytest in the bootstrap's venv with the base URL and a key in its
// environment; this test fails with pytest's own report when any of it fails.
import { startApiStack } from '../support/apiStack';
import { runPytest } from '../support/pytest';

describe('the official openai Python SDK', () => {
  let stack: Awaited<ReturnType<typeof startApiStack>>;

  beforeAll(async () => {
    stack = await startApiStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('creates and polls, downloads every variant, remixes, extends and edits with a downloaded file, lists, deletes, and raises its own exception classes (pytest)', async () => {
    const { apiKey } = await stack.user('python-sdk-user');
    const output = await runPytest('test/python/test_openai_sdk.py', { baseUrl: `${stack.url}/v1`, apiKey });
    expect(output).toMatch(/\b8 passed\b/);
  }, 300_000);
});

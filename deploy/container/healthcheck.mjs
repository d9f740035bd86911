/* global fetch, AbortSignal */
// The image's HEALTHCHECK: GET /healthz of the role this container runs (the API on PORT, a worker role on
// HEALTH_PORT; several roles: each of them). Exit 0 when every one answers 200 within 4 s, 1 otherwise.
const roles = (process.env.ROLES ?? '')
  .split(',')
  .map((r) => r.trim())
  .filter(Boolean);
const port = Number(process.env.PORT ?? 8080);
const healthPort = Number(process.env.HEALTH_PORT ?? 9464);
const workers = roles.filter((role) => role !== 'api');
const urls = [
  ...(roles.includes('api') ? [`http://127.0.0.1:${port}/healthz`] : []),
  // Under the supervisor the worker roles take HEALTH_PORT and the ports after it, in ROLES order.
  ...workers.map((_, i) => `http://127.0.0.1:${healthPort + i}/healthz`),
];
if (urls.length === 0) {
  console.error('healthcheck: ROLES is not set; nothing to check');
  process.exit(1);
}
let failed = false;
for (const url of urls) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
    if (!res.ok) {
      failed = true;
      console.error(`healthcheck: ${url} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    }
  } catch (err) {
    failed = true;
    console.error(`healthcheck: ${url}: ${err.message}`);
  }
}
process.exit(failed ? 1 : 0);

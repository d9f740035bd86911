// Sending one webhook request without SSRF. A URL must be https and its host must resolve only to public addresses
// (addresses.ts), unless the operator's WEBHOOK_ALLOWED_HOSTS names the host (plain http allowed for it). It is checked
// when an endpoint is created or changed (checkWebhookUrl) and again right before each send (sendWebhook): the name is
// resolved, every address checked, and the connection made to the checked address (a `lookup` that answers only it),
// while the Host header and TLS SNI stay the name's, so DNS that changes between the check and the connect (rebinding)
// changes nothing. Redirects are never followed: a 3xx is a status like any other.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { classifyAddress } from './addresses';

/** The longest URL an endpoint may have. */
export const WEBHOOK_URL_MAX_LENGTH = 2048;
/** How long one send may take, connection to last byte of the response head. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;

/** A URL refused by the SSRF rules; `reason` says which. */
export class WebhookUrlRefused extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`webhook URL refused: ${reason}`);
    this.name = 'WebhookUrlRefused';
  }
}

/** A send that got no HTTP status: the connection failed or the timeout passed. */
export class WebhookSendFailed extends Error {
  constructor(
    readonly reason: string,
    readonly timedOut: boolean,
  ) {
    super(`webhook not delivered: ${reason}`);
    this.name = 'WebhookSendFailed';
  }
}

export interface WebhookUrlPolicy {
  /** WEBHOOK_ALLOWED_HOSTS: host names or IP literals (lower case) exempt from the https and address rules. */
  allowedHosts: readonly string[];
  /** Resolves a name to all its addresses; Node's dns.lookup by default. Tests of the rules give their own. */
  resolve?: (hostname: string) => Promise<string[]>;
}

const resolveAll = (hostname: string): Promise<string[]> =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses: LookupAddress[]) => (err ? reject(err) : resolve(addresses.map((a) => a.address)))),
  );

/** URL.hostname without the brackets of an IPv6 literal, lower case. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

export interface CheckedUrl {
  url: URL;
  /** The address to connect to: checked, or the first the name resolved to when the host is allowed. */
  address: string;
  family: 4 | 6;
}

/** Parses `raw` and applies the rules; the checked address to connect to, or WebhookUrlRefused naming the reason. */
export async function checkWebhookUrl(raw: string, policy: WebhookUrlPolicy): Promise<CheckedUrl> {
  if (raw.length > WEBHOOK_URL_MAX_LENGTH) throw new WebhookUrlRefused(raw, `longer than ${WEBHOOK_URL_MAX_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookUrlRefused(raw, 'not an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new WebhookUrlRefused(raw, `the scheme ${url.protocol} is not https:`);
  if (url.username || url.password) throw new WebhookUrlRefused(raw, 'no user name or password in the URL');
  if (url.hash) throw new WebhookUrlRefused(raw, 'no fragment (#...) in the URL');
  const host = hostOf(url);
  const allowed = policy.allowedHosts.includes(host);
  if (!allowed && url.protocol !== 'https:')
    throw new WebhookUrlRefused(raw, 'the scheme must be https: (plain http only for a host WEBHOOK_ALLOWED_HOSTS names)');
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = await (policy.resolve ?? resolveAll)(host);
    } catch (err) {
      throw new WebhookUrlRefused(raw, `the host ${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (addresses.length === 0) throw new WebhookUrlRefused(raw, `the host ${host} resolves to no address`);
  }
  if (!allowed) {
    for (const address of addresses) {
      const verdict = classifyAddress(address);
      if (!verdict.public) {
        const what = address === host ? `the host ${host}` : `the host ${host} resolves to ${address}, which`;
        throw new WebhookUrlRefused(raw, `${what} is a ${verdict.reason}, not a public address`);
      }
    }
  }
  const address = addresses[0]!;
  return { url, address, family: isIP(address) === 6 ? 6 : 4 };
}

export interface WebhookResponse {
  statusCode: number;
  /** Milliseconds from the start of the send to the response's head. */
  latencyMs: number;
}

/**
 * POSTs `body` (JSON) with `headers` to `url`, checked again right before (WebhookUrlRefused), connected to the checked
 * address; the receiver's status, or WebhookSendFailed (connection error, or `timeoutMs` passed). Never follows a
 * redirect; reads and discards at most what the receiver sends before the timeout.
 */
export async function sendWebhook(options: {
  url: string;
  body: string;
  headers: Record<string, string>;
  policy: WebhookUrlPolicy;
  timeoutMs?: number;
}): Promise<WebhookResponse> {
  const started = Date.now();
  const checked = await checkWebhookUrl(options.url, options.policy);
  const timeoutMs = options.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  // Answers only the checked address, whatever the name resolves to now.
  const pinned: LookupFunction = (_hostname, lookupOptions, callback) => {
    if ((lookupOptions as { all?: boolean }).all)
      (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, [{ address: checked.address, family: checked.family }]);
    else callback(null, checked.address, checked.family);
  };
  const client = checked.url.protocol === 'https:' ? https : http;
  return new Promise<WebhookResponse>((resolve, reject) => {
    const request = client.request(checked.url, {
      method: 'POST',
      lookup: pinned,
      agent: false,
      headers: {
        ...options.headers,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(options.body)),
        'user-agent': 'reelforge-webhooks/1',
      },
    });
    const timer = setTimeout(() => request.destroy(new WebhookSendFailed(`no response within ${timeoutMs} ms`, true)), timeoutMs);
    request.on('response', (response) => {
      const latencyMs = Date.now() - started;
      clearTimeout(timer);
      response.resume();
      response.on('error', () => undefined);
      resolve({ statusCode: response.statusCode ?? 0, latencyMs });
      // Nothing of the body is needed: close rather than wait for a receiver that streams forever.
      setImmediate(() => request.destroy());
    });
    request.on('error', (err) => {
      clearTimeout(timer);
      reject(err instanceof WebhookSendFailed ? err : new WebhookSendFailed(`${(err as NodeJS.ErrnoException).code ?? 'error'}: ${err.message}`, false));
    });
    request.end(options.body);
  });
}

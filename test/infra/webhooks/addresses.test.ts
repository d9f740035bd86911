// Which addresses a webhook may go to, given/when/then, and the URL rules built on it (with a resolver of the test's
// own: nothing here is sent anywhere).
import { classifyAddress } from '../../../infra/webhooks/addresses';
import { checkWebhookUrl, WebhookUrlRefused } from '../../../infra/webhooks/sender';

describe('classifyAddress', () => {
  it.each([['8.8.8.8'], ['1.1.1.1'], ['172.32.0.1'], ['100.128.0.1'], ['2606:4700:4700::1111'], ['::ffff:8.8.8.8']])(
    'given the public address %s, when classified, then it may be sent to',
    (address) => {
      expect(classifyAddress(address)).toEqual({ public: true });
    },
  );

  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['fc00::1', 'unique local'],
    ['fd12:3456::1', 'unique local'],
    ['169.254.169.254', 'link-local'],
    ['169.254.0.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.254', 'carrier-grade NAT'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.251', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback'],
    ['0:0:0:0:0:ffff:a9fe:a9fe', 'IPv4-mapped link-local'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['64:ff9b::a00:1', 'NAT64'],
  ])('given %s, when classified, then it is refused as a %s address', (address, reason) => {
    const verdict = classifyAddress(address);
    expect(verdict.public).toBe(false);
    expect(verdict.public === false && verdict.reason).toMatch(new RegExp(`^${reason}`));
  });

  it('given something that is not an IP address, when classified, then it is refused, naming it', () => {
    expect(classifyAddress('example.com')).toEqual({ public: false, reason: '"example.com" is not an IP address' });
  });
});

describe('checkWebhookUrl', () => {
  const dns: Record<string, string[]> = {
    'hooks.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
    'internal.example.com': ['93.184.215.14', '10.0.0.5'],
    'metadata.example.com': ['169.254.169.254'],
    'dev.local': ['127.0.0.1'],
  };
  const resolve = async (host: string) => {
    const found = dns[host];
    if (!found) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return found;
  };
  const policy = { allowedHosts: [] as string[], resolve };
  const refusal = async (url: string, p = policy) => {
    const err = await checkWebhookUrl(url, p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebhookUrlRefused);
    return (err as WebhookUrlRefused).reason;
  };

  it('given an https URL whose name resolves only to public addresses, then it is accepted with the address to connect to', async () => {
    await expect(checkWebhookUrl('https://hooks.example.com/in', policy)).resolves.toMatchObject({ address: '93.184.215.14', family: 4 });
  });

  it('given a name with one private address among public ones, then it is refused naming that address', async () => {
    expect(await refusal('https://internal.example.com/in')).toBe(
      'the host internal.example.com resolves to 10.0.0.5, which is a private address, not a public address',
    );
    expect(await refusal('https://metadata.example.com/')).toMatch(/169\.254\.169\.254, which is a link-local address/);
  });

  it('given an address literal that is not public, then it is refused naming the kind', async () => {
    expect(await refusal('https://127.0.0.1:8443/')).toBe('the host 127.0.0.1 is a loopback address, not a public address');
    expect(await refusal('https://[::ffff:192.168.0.1]/')).toMatch(/IPv4-mapped private address/);
    expect(await refusal('https://[fe80::1]/')).toMatch(/link-local/);
  });

  it('given plain http, another scheme, credentials, a fragment or a name that does not resolve, then it is refused naming why', async () => {
    expect(await refusal('http://hooks.example.com/')).toMatch(/must be https/);
    expect(await refusal('ftp://hooks.example.com/')).toMatch(/scheme ftp: is not https/);
    expect(await refusal('https://u:p@hooks.example.com/')).toMatch(/no user name or password/);
    expect(await refusal('https://hooks.example.com/#x')).toMatch(/no fragment/);
    expect(await refusal('https://nowhere.example.com/')).toMatch(/does not resolve \(ENOTFOUND\)/);
    expect(await refusal('not a url')).toBe('not an absolute URL');
  });

  it('given a host WEBHOOK_ALLOWED_HOSTS names, then plain http and a loopback address are accepted for it alone', async () => {
    const allowing = { ...policy, allowedHosts: ['127.0.0.1', 'dev.local'] };
    await expect(checkWebhookUrl('http://127.0.0.1:9000/in', allowing)).resolves.toMatchObject({ address: '127.0.0.1' });
    await expect(checkWebhookUrl('http://dev.local/in', allowing)).resolves.toMatchObject({ address: '127.0.0.1' });
    expect(await refusal('http://127.0.0.2/in', allowing)).toMatch(/must be https/);
    expect(await refusal('https://[::1]/in', allowing)).toMatch(/loopback/);
  });
});

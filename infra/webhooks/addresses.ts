// Which addresses a webhook may be sent to (no SSRF): only public unicast ones. Each range refused is named, so a
// refusal says why. Built on Node's own net.BlockList; an IPv4-mapped IPv6 address (::ffff:10.0.0.1) is judged as
// the IPv4 address it carries.
import { BlockList, isIP } from 'node:net';

interface Range {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
  reason: string;
}

const RANGES: Range[] = [
  { address: '0.0.0.0', prefix: 8, family: 'ipv4', reason: 'unspecified ("this network") address' },
  { address: '10.0.0.0', prefix: 8, family: 'ipv4', reason: 'private address' },
  { address: '100.64.0.0', prefix: 10, family: 'ipv4', reason: 'carrier-grade NAT (shared) address' },
  { address: '127.0.0.0', prefix: 8, family: 'ipv4', reason: 'loopback address' },
  { address: '169.254.0.0', prefix: 16, family: 'ipv4', reason: 'link-local address (cloud metadata lives there)' },
  { address: '172.16.0.0', prefix: 12, family: 'ipv4', reason: 'private address' },
  { address: '192.0.0.0', prefix: 24, family: 'ipv4', reason: 'IETF protocol assignment address' },
  { address: '192.0.2.0', prefix: 24, family: 'ipv4', reason: 'documentation address' },
  { address: '192.168.0.0', prefix: 16, family: 'ipv4', reason: 'private address' },
  { address: '198.18.0.0', prefix: 15, family: 'ipv4', reason: 'benchmarking address' },
  { address: '198.51.100.0', prefix: 24, family: 'ipv4', reason: 'documentation address' },
  { address: '203.0.113.0', prefix: 24, family: 'ipv4', reason: 'documentation address' },
  { address: '224.0.0.0', prefix: 4, family: 'ipv4', reason: 'multicast address' },
  { address: '240.0.0.0', prefix: 4, family: 'ipv4', reason: 'reserved address (broadcast included)' },
  { address: '::', prefix: 128, family: 'ipv6', reason: 'unspecified address' },
  { address: '::1', prefix: 128, family: 'ipv6', reason: 'loopback address' },
  // NAT64 and 6to4 carry an IPv4 address of any kind inside: refused as a whole rather than unpacked.
  { address: '64:ff9b::', prefix: 96, family: 'ipv6', reason: 'NAT64 address' },
  { address: '64:ff9b:1::', prefix: 48, family: 'ipv6', reason: 'NAT64 address' },
  { address: '100::', prefix: 64, family: 'ipv6', reason: 'discard-only address' },
  { address: '2001:db8::', prefix: 32, family: 'ipv6', reason: 'documentation address' },
  { address: '2002::', prefix: 16, family: 'ipv6', reason: '6to4 address' },
  { address: 'fc00::', prefix: 7, family: 'ipv6', reason: 'unique local (private) address' },
  { address: 'fe80::', prefix: 10, family: 'ipv6', reason: 'link-local address' },
  { address: 'fec0::', prefix: 10, family: 'ipv6', reason: 'site-local address' },
  { address: 'ff00::', prefix: 8, family: 'ipv6', reason: 'multicast address' },
];

const lists = RANGES.map((range) => {
  const list = new BlockList();
  list.addSubnet(range.address, range.prefix, range.family);
  return { range, list };
});

/**
 * The IPv4 address an IPv4-mapped IPv6 address (::ffff:0:0/96, in any spelling) carries; otherwise undefined. The URL
 * parser writes every spelling in one compressed form, `::ffff:a00:1`.
 */
function mappedIpv4(address: string): string | undefined {
  const normal = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(normal);
  if (!hex) return undefined;
  const hi = parseInt(hex[1]!, 16);
  const lo = parseInt(hex[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

export type AddressVerdict = { public: true } | { public: false; reason: string };

/** Whether `address` (an IPv4 or IPv6 literal) is a public unicast address a webhook may be sent to, and if not why. */
export function classifyAddress(address: string): AddressVerdict {
  const bare = address.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 0) return { public: false, reason: `${JSON.stringify(address)} is not an IP address` };
  const mapped = family === 6 ? mappedIpv4(bare) : undefined;
  if (mapped !== undefined) {
    const inner = classifyAddress(mapped);
    return inner.public ? inner : { public: false, reason: `IPv4-mapped ${inner.reason}` };
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const { range, list } of lists) {
    if (range.family === type && list.check(bare, type)) return { public: false, reason: range.reason };
  }
  return { public: true };
}

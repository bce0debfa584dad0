import dns from 'node:dns';
import net from 'node:net';
import { HearthError } from '@hearth/protocol';

/**
 * Addresses an outbound fetch must never reach on a production site: loopback, private,
 * link-local (cloud metadata at 169.254.169.254), CGNAT, multicast and the like.
 * The check runs inside the socket's DNS lookup, on the address actually connected to,
 * so a name that resolves differently the second time (DNS rebinding) gains nothing.
 */
const blocked = new net.BlockList();
for (const [prefix, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(prefix, bits, 'ipv4');
for (const [prefix, bits] of [
  // No ::ffff:0:0/96 rule: BlockList matches IPv4-mapped IPv6 against IPv4 rules and back,
  // so such a rule would block every IPv4 address. Mapped addresses are unwrapped below instead.
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['100::', 64], ['2001:db8::', 32],
  ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) blocked.addSubnet(prefix, bits, 'ipv6');

export function isForbiddenAddress(ip: string): boolean {
  const family = net.isIP(ip);
  if (family === 0) return true;
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    if (mapped) return blocked.check(mapped[1]!, 'ipv4');
  }
  return blocked.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

export class ForbiddenAddressError extends HearthError {
  constructor(host: string) {
    super('forbidden_address', `refusing to connect to ${host}: it resolves to a loopback, private or link-local address`, { status: 400 });
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/** A `lookup` for http.request / ws that refuses forbidden addresses unless allowed (dev sites). */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const list = addresses as dns.LookupAddress[];
      const usable = allowPrivate ? list : list.filter((a) => !isForbiddenAddress(a.address));
      if (usable.length === 0) return callback(new ForbiddenAddressError(hostname) as unknown as NodeJS.ErrnoException, '');
      if (options.all) return callback(null, usable);
      callback(null, usable[0]!.address, usable[0]!.family);
    });
  };
}

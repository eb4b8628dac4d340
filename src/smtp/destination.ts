import dns from 'node:dns/promises';
import net from 'node:net';

/** Addresses Relais refuses to open an SMTP connection to unless the installation allows them. */
export type RefusedKind = 'unspecified' | 'loopback' | 'metadata' | 'linkLocal';

/** Where Relais may connect: RELAIS_SMTP_ALLOW_PRIVATE and RELAIS_SMTP_ALLOWED_NETWORKS, read once at start. */
export interface DestinationPolicy {
  allowPrivate: boolean;
  allowed: net.BlockList;
  /** The allow-list as configured, for messages and logs. */
  allowedNetworks: string[];
}

// Metadata before link-local: 169.254.169.254 is both, and "metadata" says more.
const refusedRanges: [RefusedKind, string[]][] = [
  ['unspecified', ['0.0.0.0/8', '::/128']],
  ['loopback', ['127.0.0.0/8', '::1/128']],
  // AWS/GCP/Azure/OpenStack, AWS over IPv6, Azure's wire server, Alibaba, Oracle.
  ['metadata', ['169.254.169.254/32', 'fd00:ec2::254/128', '168.63.129.16/32', '100.100.100.200/32', '192.0.0.192/32']],
  ['linkLocal', ['169.254.0.0/16', 'fe80::/10']],
];

/** "10.0.0.0/8", "fd00::/8" or a bare address; null when it is neither. */
export function parseNetwork(value: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address = '', prefixText, ...rest] = value.trim().split('/');
  const version = net.isIP(address);
  if (version === 0 || rest.length > 0) return null;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  if (prefixText === undefined) return { address, prefix: max, family };
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return null;
  return { address, prefix: Number(prefixText), family };
}

function blockListOf(networks: string[]): net.BlockList {
  const list = new net.BlockList();
  for (const network of networks) {
    const parsed = parseNetwork(network);
    if (!parsed) throw new Error(`not a network: "${network}"`);
    list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return list;
}

const refusedLists = refusedRanges.map(([kind, networks]) => [kind, blockListOf(networks)] as const);

export function destinationPolicyOf(allowPrivate: boolean, allowedNetworks: string[]): DestinationPolicy {
  return { allowPrivate, allowed: blockListOf(allowedNetworks), allowedNetworks };
}

/** Why this address is refused, or null when Relais may connect to it. Private ranges (10/8…) are allowed. */
export function refusalOf(address: string, policy: DestinationPolicy): RefusedKind | null {
  const family = net.isIP(address) === 6 ? 'ipv6' : 'ipv4';
  // BlockList matches an IPv4-mapped IPv6 address (::ffff:127.0.0.1) against the IPv4 ranges too.
  const kind = refusedLists.find(([, list]) => list.check(address, family))?.[0] ?? null;
  if (kind === null || policy.allowPrivate || policy.allowed.check(address, family)) return null;
  return kind;
}

export class DestinationRefused extends Error {
  readonly code = 'EDESTINATION';
  constructor(
    readonly kind: RefusedKind,
    readonly address: string,
  ) {
    super(`Connecting to ${address} (${kind}) is not allowed: set RELAIS_SMTP_ALLOWED_NETWORKS or RELAIS_SMTP_ALLOW_PRIVATE=true`);
  }
}

/** Throws when the policy refuses this address; every SMTP connection goes through here before it opens. */
export function assertAllowed(address: string, policy: DestinationPolicy): void {
  const kind = refusalOf(address, policy);
  if (kind) throw new DestinationRefused(kind, address);
}

/** "[::1]" in the form is ::1 on the wire. */
export function connectHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * The one address an SMTP connection may go to: the host's own address, or the first its name resolves to, checked
 * against the policy. Callers connect to exactly this address (keeping the name for TLS), never look the name up
 * again: a second lookup could answer differently.
 */
export async function resolveDestination(host: string, policy: DestinationPolicy): Promise<{ address: string; looked: boolean }> {
  const name = connectHost(host);
  const looked = net.isIP(name) === 0;
  const address = looked ? (await dns.lookup(name)).address : name;
  assertAllowed(address, policy);
  return { address, looked };
}

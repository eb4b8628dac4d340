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

/** The 16 bytes of an IPv6 address ("::1", "64:ff9b::1.2.3.4", "fe80::1%lo"), or null. */
export function ipv6Bytes(address: string): number[] | null {
  let text = address.split('%')[0]!;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (dotted) {
    const [a, b, c, d] = dotted.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -dotted.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail, ...more] = text.split('::');
  if (more.length) return null;
  const groups = (part: string) => (part ? part.split(':') : []);
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return null;
  const all = [...left, ...Array<string>(missing).fill('0'), ...right];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return null;
  return all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 255]);
}

const zeros = (bytes: number[], from: number, to: number) => bytes.slice(from, to).every((b) => b === 0);
const ipv4Of = (bytes: number[], at: number[]) => at.map((i) => bytes[i]).join('.');
const last4 = [12, 13, 14, 15];

/**
 * The IPv4 addresses an IPv6 address carries and may reach: IPv4-compatible (::/96), mapped (::ffff:0:0/96),
 * translated (::ffff:0:0:0/96), NAT64 (64:ff9b::/96, and 64:ff9b:1::/48 at each RFC 6052 position) and 6to4
 * (2002::/16). A NAT64 or 6to4 gateway forwards to that IPv4 address, so the IPv4 rules apply to it.
 */
export function embeddedIpv4(address: string): string[] {
  const b = ipv6Bytes(address);
  if (!b) return [];
  if (zeros(b, 0, 12)) return [ipv4Of(b, last4)];
  if (zeros(b, 0, 10) && b[10] === 255 && b[11] === 255) return [ipv4Of(b, last4)];
  if (zeros(b, 0, 8) && b[8] === 255 && b[9] === 255 && zeros(b, 10, 12)) return [ipv4Of(b, last4)];
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b) {
    if (zeros(b, 4, 12)) return [ipv4Of(b, last4)];
    if (b[4] === 0 && b[5] === 1) {
      // The prefix length is the gateway's choice: every position is read, and the zero-filled readings of the
      // other positions (0.x.x.x) are not taken for the address meant.
      const readings = [last4, [6, 7, 9, 10], [7, 9, 10, 11], [9, 10, 11, 12]].map((at) => ipv4Of(b, at));
      const meant = readings.filter((reading) => !reading.startsWith('0.'));
      return meant.length ? meant : [readings[0]!];
    }
  }
  if (b[0] === 0x20 && b[1] === 0x02) return [ipv4Of(b, [2, 3, 4, 5])];
  return [];
}

function refusedKindOf(address: string, family: 'ipv4' | 'ipv6'): RefusedKind | null {
  return refusedLists.find(([, list]) => list.check(address, family))?.[0] ?? null;
}

/** Why this address is refused, or null when Relais may connect to it. Private ranges (10/8…) are allowed. */
export function refusalOf(address: string, policy: DestinationPolicy): RefusedKind | null {
  const family = net.isIP(address) === 6 ? 'ipv6' : 'ipv4';
  const candidates: [string, 'ipv4' | 'ipv6'][] = [[address, family], ...embeddedIpv4(family === 'ipv6' ? address : '').map((v4) => [v4, 'ipv4'] as [string, 'ipv4'])];
  for (const [candidate, candidateFamily] of candidates) {
    const kind = refusedKindOf(candidate, candidateFamily);
    if (kind === null || policy.allowPrivate || policy.allowed.check(address, family) || policy.allowed.check(candidate, candidateFamily)) continue;
    return kind;
  }
  return null;
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

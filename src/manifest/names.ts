import { ipAddressBytes } from '../lib/ip.js';
import type { Manifest } from './types.js';

/**
 * Which names a service may have in its certificate. A workload chooses the names it asks for
 * (MarbleRun's EDG_MARBLE_DNS_NAMES, cloister's CLOISTER_DNS_NAMES), so the coordinator checks
 * each against what the manifest lets that service claim: its own name, `localhost`, the names
 * Kubernetes gives a Service of that name (`S.<namespace>`, `.svc`, `.svc.cluster.local`), the
 * loopback addresses, and what the manifest lists for it (`Marbles.S.DNSNames`, `IPAddresses`, a
 * cloister extension). Never a wildcard (RFC 6125 §6.4.3), another service's name in any of those
 * forms, or a name the coordinator serves under.
 */

const LOOPBACK = ['127.0.0.1', '::1'];
/** `.<namespace>[.svc[.cluster.local]]`: a namespace is an RFC 1123 label (Kubernetes' rule for its names). */
const KUBERNETES_SUFFIX = /^\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.svc(?:\.cluster\.local)?)?$/;

/** Whether `name` is `service`, or one of the DNS names of a Kubernetes Service called `service`. */
export function isServiceName(service: string, name: string): boolean {
  const [s, n] = [service.toLowerCase(), name.toLowerCase()];
  return n === s || (n.startsWith(`${s}.`) && KUBERNETES_SUFFIX.test(n.slice(s.length)));
}

/** The other service of the manifest whose name `name` is (bare or as a Kubernetes Service), if any. */
export function otherServiceOf(m: Pick<Manifest, 'Marbles'>, service: string, name: string): string | undefined {
  return Object.keys(m.Marbles).find((other) => other !== service && isServiceName(other, name));
}

/**
 * Why `service` may not have the DNS name `name` in its certificate, or undefined when it may.
 * `reserved` are the coordinator's own names.
 *
 * @example
 * ```ts
 * dnsNameProblem(manifest, 'api', 'api.prod.svc', []); // undefined
 * dnsNameProblem(manifest, 'api', 'db', []);           // 'is the name of service "db"'
 * ```
 */
export function dnsNameProblem(
  m: Pick<Manifest, 'Marbles'>,
  service: string,
  name: string,
  reserved: readonly string[],
): string | undefined {
  const lower = name.toLowerCase();
  if (lower.includes('*')) return 'is a wildcard';
  const other = otherServiceOf(m, service, lower);
  if (other !== undefined) return `is the name of service "${other}"`;
  if (reserved.some((r) => r.toLowerCase() === lower)) return "is one of the coordinator's own names";
  const listed = m.Marbles[service]?.DNSNames ?? [];
  if (lower === 'localhost' || isServiceName(service, lower) || listed.some((d) => d.toLowerCase() === lower))
    return undefined;
  return `is not a name service "${service}" may claim: ${service}, localhost, ${service}.<namespace>[.svc[.cluster.local]] or the manifest's Marbles.${service}.DNSNames`;
}

/** Why `service` may not have the IP address `address` in its certificate, or undefined when it may. */
export function ipAddressProblem(
  m: Pick<Manifest, 'Marbles'>,
  service: string,
  address: string,
  reserved: readonly string[],
): string | undefined {
  const bytes = ipAddressBytes(address);
  if (bytes === undefined) return 'is not an IPv4 or IPv6 address';
  const same = (other: string) => Buffer.from(ipAddressBytes(other) ?? []).equals(bytes);
  if (LOOPBACK.some(same)) return undefined;
  if (reserved.some(same)) return "is one of the coordinator's own addresses";
  if ((m.Marbles[service]?.IPAddresses ?? []).some(same)) return undefined;
  return `is not an address service "${service}" may claim: the loopback addresses or the manifest's Marbles.${service}.IPAddresses`;
}

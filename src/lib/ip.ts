/**
 * IP addresses in text form, parsed without `node:net` (a socket module the pure core does not
 * import). What Node's `isIP` accepts, less IPv6 zone ids (`%eth0`), which name a host's
 * interface and have no place in a certificate (RFC 5280 §4.2.1.6: an iPAddress is 4 or 16 octets).
 */

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
/** Dotted decimal without leading zeros (Node's, and RFC 3986 §3.2.2's `dec-octet`). */
const IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * The 4 octets of an IPv4 address or the 16 of an IPv6 address (RFC 4291 §2.2: hex groups, one
 * `::` for one or more zero groups, an optional trailing dotted quad), or `undefined` when `text`
 * is neither.
 *
 * @example `ipAddressBytes('::ffff:10.0.0.1')` → 16 octets ending `0a 00 00 01`; `ipAddressBytes('localhost')` → `undefined`
 */
export function ipAddressBytes(text: string): Uint8Array | undefined {
  if (IPV4.test(text)) return Uint8Array.from(text.split('.'), Number);
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parts = halves.map((half, i) => groups(half, i === halves.length - 1));
  const [head, tail] = parts;
  if (head === undefined || (halves.length === 2 && tail === undefined)) return undefined;
  const count = head.length + (tail?.length ?? 0);
  if (tail === undefined ? count !== 8 : count > 7) return undefined;
  const all = tail === undefined ? head : [...head, ...new Array<number>(8 - count).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((group, i) => {
    out[2 * i] = group >> 8;
    out[2 * i + 1] = group & 0xff;
  });
  return out;
}

/** The 16-bit groups of one side of `::` (empty: none); a dotted quad only at the very end. */
function groups(half: string, last: boolean): number[] | undefined {
  if (half === '') return [];
  const fields = half.split(':');
  const out: number[] = [];
  for (const [i, field] of fields.entries()) {
    if (HEX_GROUP.test(field)) out.push(parseInt(field, 16));
    else if (last && i === fields.length - 1 && IPV4.test(field)) {
      const [a, b, c, d] = field.split('.').map(Number) as [number, number, number, number];
      out.push((a << 8) | b, (c << 8) | d);
    } else return undefined;
  }
  return out;
}

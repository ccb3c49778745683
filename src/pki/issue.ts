import { caSigner, CLOCK_SKEW, unixTime, type CaBundle, type Issuer } from './ca.js';
import {
  profileExtensions,
  signCertificate,
  subjectName,
  templateExtensions,
  type SubjectFields,
} from './lib/certificate.js';
import { invalid, subjectKey, type SubjectKey } from './lib/keys.js';
import { ipAddressBytes } from '../lib/ip.js';

/**
 * A request for a workload's TLS certificate.
 *
 * @example
 * ```ts
 * const request: LeafRequest = { publicKey: spki, commonName: 'db', dnsNames: ['db'], now, clientAuth: false };
 * ```
 */
export interface LeafRequest {
  /** SPKI DER of the subject's key: P-256, P-384, RSA ≥ 2048 bits or Ed25519. */
  publicKey: Uint8Array;
  commonName: string;
  dnsNames?: string[];
  /** IPv4 or IPv6 addresses, in text form. */
  ipAddresses?: string[];
  /** Unix seconds. */
  now: number;
  /** 365 by default. */
  validDays?: number;
  /** Extended key usage id-kp-serverAuth; true by default. */
  serverAuth?: boolean;
  /** Extended key usage id-kp-clientAuth; true by default. */
  clientAuth?: boolean;
  /**
   * Who signs: the intermediate (every workload, the default) or the root itself, for the
   * coordinator's own serving identity only. Clients tell the coordinator from any workload by
   * this: its leaf is the one certificate the root signs directly (besides the intermediate).
   */
  issuer?: Issuer;
}

const DAY = 86_400;
/** RFC 1123 §2.1 host name labels (underscores tolerated, as in service names); a leading `*` label for wildcards (RFC 6125 §6.4.3). */
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** A dNSName (an IA5String, RFC 5280 §4.2.1.6), or PKI_INVALID. */
function dnsName(name: unknown, field: string): string {
  const labels = typeof name === 'string' ? name.split('.') : [];
  const ok =
    typeof name === 'string' &&
    name.length <= 253 &&
    labels.every((label, i) => LABEL.test(label) || (i === 0 && label === '*' && labels.length > 1));
  if (!ok) throw invalid(field, 'is not a DNS name', name);
  return name;
}

/** The octets of an iPAddress (RFC 5280 §4.2.1.6: 4 or 16), or PKI_INVALID; zone ids are refused. */
function ipAddress(address: unknown, field: string): Uint8Array {
  const octets = typeof address === 'string' ? ipAddressBytes(address) : undefined;
  if (octets === undefined) throw invalid(field, 'is not an IPv4 or IPv6 address', address);
  return octets;
}

/** A list of names checked one by one, each error naming its index. */
function names<Name>(list: unknown, field: string, check: (name: unknown, field: string) => Name): Name[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw invalid(field, 'must be a list of strings', list);
  return list.map((name, i) => check(name, `${field}[${i}]`));
}

function flag(value: unknown, field: string): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'boolean') throw invalid(field, 'must be true or false', value);
  return value;
}

/** What {@link issueCertificate} certifies, validated. */
export interface LeafTemplate {
  readonly key: SubjectKey;
  readonly subject: SubjectFields;
  readonly dnsNames: readonly string[] | undefined;
  readonly ipAddresses: readonly string[] | undefined;
  readonly now: number;
  readonly validDays: number;
  readonly serverAuth: boolean | undefined;
  readonly clientAuth: boolean | undefined;
  /** How the request names its fields in errors. */
  readonly fields: { subject: string; dnsNames: string; ipAddresses: string; validDays: string };
  /**
   * A manifest secret's certificate (MarbleRun's `Cert`): basic constraints, key usage bits and
   * extended key usage OIDs as given, instead of the TLS leaf profile; `notAfter` (Unix seconds)
   * instead of `validDays`.
   */
  readonly template?: {
    readonly ca: boolean;
    readonly pathLength: number | undefined;
    readonly keyUsage: number;
    readonly extKeyUsages: readonly string[];
    readonly notAfter: number | undefined;
  };
}

/**
 * Validates a leaf template and has the intermediate (or the root) sign it: not a CA, digitalSignature
 * (+ keyEncipherment for RSA), serverAuth / clientAuth, SANs, valid from an hour before `now` for
 * `validDays` (at most until the intermediate expires). Shared by {@link issueLeaf} and secrets.
 *
 * @example
 * ```ts
 * const der = await issueCertificate(ca, { key, subject: { CommonName: 'db' }, ... });
 * ```
 */
export async function issueCertificate(
  ca: CaBundle,
  t: LeafTemplate,
  issuer: Issuer = 'intermediate',
): Promise<Uint8Array> {
  const now = unixTime(t.now);
  const notAfter = t.template?.notAfter;
  if (notAfter === undefined && (!Number.isSafeInteger(t.validDays) || t.validDays < 1))
    throw invalid(t.fields.validDays, 'must be a positive whole number of days', t.validDays);
  if (notAfter !== undefined && !(Number.isSafeInteger(notAfter) && notAfter > now))
    throw invalid('Cert.NotAfter', 'must be a time after now', notAfter);
  const subject = subjectName(t.subject, t.fields.subject);
  const sans = {
    dnsNames: names(t.dnsNames, t.fields.dnsNames, dnsName),
    ipAddresses: names(t.ipAddresses, t.fields.ipAddresses, ipAddress),
  };
  const extensions = t.template
    ? templateExtensions({ ...t.template, ...sans })
    : profileExtensions({
        ca: false,
        key: t.key,
        ...sans,
        serverAuth: flag(t.serverAuth, 'serverAuth'),
        clientAuth: flag(t.clientAuth, 'clientAuth'),
      });
  return signCertificate(
    { subject, key: t.key, notBefore: now - CLOCK_SKEW, notAfter: notAfter ?? now + t.validDays * DAY, extensions },
    await caSigner(ca, issuer),
  );
}

/**
 * Issues a workload's TLS certificate, signed by the CA's intermediate: subject CN, DNS and IP
 * SANs, extKeyUsage serverAuth / clientAuth, not a CA. A malformed or disallowed public key (or
 * any other field) throws PKI_INVALID naming the field. Returns DER.
 *
 * @example
 * ```ts
 * const { publicKey } = generateKeyPairSync('ed25519');
 * const leaf = await issueLeaf(ca, {
 *   publicKey: publicKey.export({ format: 'der', type: 'spki' }),
 *   commonName: 'backend', dnsNames: ['backend', 'localhost'], ipAddresses: ['127.0.0.1', '::1'],
 *   now: Math.floor(Date.now() / 1000),
 * });
 * ```
 */
export async function issueLeaf(ca: CaBundle, request: LeafRequest): Promise<Uint8Array> {
  if (typeof request.commonName !== 'string' || request.commonName === '')
    throw invalid('commonName', 'must be a non-empty string', request.commonName);
  return issueCertificate(
    ca,
    {
      key: subjectKey(request.publicKey, 'publicKey'),
      subject: { CommonName: request.commonName },
      dnsNames: request.dnsNames,
      ipAddresses: request.ipAddresses,
      now: request.now,
      validDays: request.validDays ?? 365,
      serverAuth: request.serverAuth,
      clientAuth: request.clientAuth,
      fields: { subject: 'subject', dnsNames: 'dnsNames', ipAddresses: 'ipAddresses', validDays: 'validDays' },
    },
    request.issuer,
  );
}

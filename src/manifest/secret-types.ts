import type { SecretType } from './types.js';

/** Allowed `Size` values of a generated secret: a list, or a range with a step. */
type SizeRule = { text: string } & ({ sizes: readonly number[] } | { min: number; max: number; step: number });

/**
 * Secret types (MarbleRun "Secrets": `Type`, `Size`; its `GenerateSecrets`), one row each:
 * whether it is a certificate (so `Cert`, `ValidFor` and `.Cert` apply), whether only a user can
 * provide it, and the `Size` in bits a generated one must have (MarbleRun has no defaults: 0 is
 * refused where a size is needed).
 *
 * @example
 * ```ts
 * SECRET_TYPES['cert-ecdsa'].size;   // { sizes: [224, 256, 384, 521], ... }
 * ```
 */
export const SECRET_TYPES = {
  // MarbleRun: "a multiple of 8", not 0; at most what HKDF-SHA256 derives (255 × 32 bytes), as for MarbleRun's unique keys.
  'symmetric-key': {
    cert: false,
    userOnly: false,
    size: { min: 8, max: 65280, step: 8, text: 'a multiple of 8 from 8 to 65280' },
  },
  // Go refuses RSA keys under 1024 bits; cloister under 2048 (NIST SP 800-131A) and over 8192 (generation time).
  'cert-rsa': {
    cert: true,
    userOnly: false,
    size: { min: 2048, max: 8192, step: 1, text: 'from 2048 to 8192 bits' },
  },
  // MarbleRun: "a curve supported by Go's crypto library, currently: 224, 256, 384, or 521".
  'cert-ecdsa': {
    cert: true,
    userOnly: false,
    size: { sizes: [224, 256, 384, 521], text: '224 (P-224), 256 (P-256), 384 (P-384) or 521 (P-521)' },
  },
  // MarbleRun: "For Ed25519, this should be omitted".
  'cert-ed25519': {
    cert: true,
    userOnly: false,
    size: { sizes: [0], text: 'omitted (Ed25519 has one size)' },
  },
  // MarbleRun: plain secrets "contain arbitrary data uploaded by users, and are never generated".
  plain: {
    cert: false,
    userOnly: true,
    size: { sizes: [0], text: 'omitted (plain secrets take data of any length)' },
  },
} as const satisfies Record<SecretType, { cert: boolean; userOnly: boolean; size: SizeRule }>;

export const SECRET_TYPE_NAMES = Object.keys(SECRET_TYPES) as SecretType[];

/**
 * Whether `size` satisfies `rule`.
 *
 * @example
 * ```ts
 * sizeAllowed(SECRET_TYPES['symmetric-key'].size, 256);   // true
 * ```
 */
export function sizeAllowed(rule: SizeRule, size: number): boolean {
  if ('sizes' in rule) return rule.sizes.includes(size);
  return size >= rule.min && size <= rule.max && size % rule.step === 0;
}

/** Certificate validity when `ValidFor` is not given (MarbleRun: "default: 365"). */
export const DEFAULT_VALID_FOR_DAYS = 365;

/**
 * Go's `x509.ExtKeyUsage` values (the numbers a manifest's `Cert.ExtKeyUsage` holds) and their
 * OIDs (RFC 5280 §4.2.1.12, and the Microsoft and Netscape ones Go knows).
 *
 * @example
 * ```ts
 * EXT_KEY_USAGES[1];   // '1.3.6.1.5.5.7.3.1' (serverAuth)
 * ```
 */
export const EXT_KEY_USAGES: readonly (string | undefined)[] = [
  '2.5.29.37.0',
  '1.3.6.1.5.5.7.3.1',
  '1.3.6.1.5.5.7.3.2',
  '1.3.6.1.5.5.7.3.3',
  '1.3.6.1.5.5.7.3.4',
  '1.3.6.1.5.5.7.3.5',
  '1.3.6.1.5.5.7.3.6',
  '1.3.6.1.5.5.7.3.7',
  '1.3.6.1.5.5.7.3.8',
  '1.3.6.1.5.5.7.3.9',
  '1.3.6.1.4.1.311.10.3.3',
  '2.16.840.1.113730.4.1',
  '1.3.6.1.4.1.311.2.1.22',
  '1.3.6.1.4.1.311.61.1.1',
];

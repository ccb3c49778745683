import type { SecretType } from './types.js';

/** Allowed `Size` values: a list, or a range with a step. */
type SizeRule = { default: number | undefined; text: string } & (
  { sizes: readonly number[] } | { min: number; max: number; step: number }
);

/**
 * Secret types (MarbleRun "Secrets": `Type`, `Size`), one row each: whether it is a certificate
 * (so `Cert`, `ValidFor` and the `.Cert`/`.Public`/`.Private` accessors apply), whether only a
 * user can provide it, and its `Size` rule in bits. `default: undefined` means Size is required.
 *
 * @example
 * ```ts
 * SECRET_TYPES['cert-ecdsa'].size.default;   // 256
 * ```
 */
export const SECRET_TYPES = {
  // MarbleRun: "For symmetric keys, this needs to be a multiple of 8"; cloister caps it at 512.
  'symmetric-key': {
    cert: false,
    userOnly: false,
    size: { default: undefined, min: 8, max: 512, step: 8, text: 'a multiple of 8 from 8 to 512' },
  },
  // cloister: at least 2048 bits, at most 8192 (key generation time), whole bytes.
  'cert-rsa': {
    cert: true,
    userOnly: false,
    size: { default: 2048, min: 2048, max: 8192, step: 8, text: 'a multiple of 8 from 2048 to 8192' },
  },
  // The curve by its size: P-256 or P-384 (MarbleRun also takes 224 and 521).
  'cert-ecdsa': {
    cert: true,
    userOnly: false,
    size: { default: 256, sizes: [256, 384], text: '256 (P-256) or 384 (P-384)' },
  },
  // MarbleRun: "For Ed25519, this should be omitted".
  'cert-ed25519': {
    cert: true,
    userOnly: false,
    size: { default: 0, sizes: [0], text: 'omitted (Ed25519 has one size)' },
  },
  // MarbleRun: plain secrets "contain arbitrary data uploaded by users, and are never generated".
  plain: {
    cert: false,
    userOnly: true,
    size: { default: 0, sizes: [0], text: 'omitted (plain secrets take data of any length)' },
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
/** cloister's upper bound for `ValidFor` (a hundred years). */
export const MAX_VALID_FOR_DAYS = 36500;

import { randomBytes } from 'node:crypto';
import { CloisterError } from '../../lib/errors.js';

/**
 * Shamir's secret sharing over GF(2^8) (Shamir, "How to share a secret", 1979), byte by byte, in
 * the share layout of HashiCorp's `shamir` package that MarbleRun uses for `RecoveryThreshold`:
 * a share is the secret's length of polynomial values followed by one byte, its x coordinate
 * (distinct, never 0). Any `threshold` shares give the secret back; fewer say nothing of it.
 */

/** Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1 (the AES field, FIPS 197 §4.2). */
function multiply(a: number, b: number): number {
  let product = 0;
  for (let x = a, y = b; y > 0; y >>= 1) {
    if (y & 1) product ^= x;
    x = (x << 1) ^ (x & 0x80 ? 0x11b : 0);
  }
  return product;
}

/** a^-1 = a^254 in GF(2^8) (the multiplicative group has order 255). */
function inverse(a: number): number {
  let result = 1;
  for (let i = 0; i < 254; i++) result = multiply(result, a);
  return result;
}

/** Horner's rule: the polynomial with these coefficients (constant first) at x. */
function evaluate(coefficients: Uint8Array, x: number): number {
  let y = 0;
  for (let i = coefficients.length - 1; i >= 0; i--) y = multiply(y, x) ^ (coefficients[i] ?? 0);
  return y;
}

/**
 * `parts` shares of `secret`, any `threshold` of which recombine it.
 *
 * @example
 * ```ts
 * const shares = split(key, 3, 2); // three 33-byte shares of a 32-byte key
 * ```
 */
export function split(secret: Uint8Array, parts: number, threshold: number): Uint8Array[] {
  if (threshold < 2 || parts < threshold || parts > 255)
    throw new CloisterError('MANIFEST_INVALID', `cannot split a secret ${parts} ways with threshold ${threshold}`);
  // Distinct non-zero x coordinates in random order, as HashiCorp's Split draws them.
  const xs = [...Array(255).keys()].map((i) => i + 1);
  for (let i = xs.length - 1; i > 0; i--) {
    const j = (randomBytes(1)[0] ?? 0) % (i + 1);
    [xs[i], xs[j]] = [xs[j] ?? 0, xs[i] ?? 0];
  }
  const shares = xs.slice(0, parts).map((x) => {
    const share = new Uint8Array(secret.length + 1);
    share[secret.length] = x;
    return share;
  });
  for (let byte = 0; byte < secret.length; byte++) {
    const coefficients = new Uint8Array(randomBytes(threshold));
    coefficients[0] = secret[byte] ?? 0;
    for (const share of shares) share[byte] = evaluate(coefficients, share[secret.length] ?? 0);
  }
  return shares;
}

/**
 * The secret of `shares` (Lagrange interpolation at 0). Shares of different lengths or with the
 * same x coordinate are RECOVERY_SHARE_INVALID; wrong shares give a wrong secret, which the
 * caller detects (here: the sealed state does not open).
 *
 * @example
 * ```ts
 * const key = combine([shares[0], shares[2]]);
 * ```
 */
export function combine(shares: readonly Uint8Array[]): Uint8Array {
  const length = (shares[0]?.length ?? 0) - 1;
  const xs = shares.map((s) => s[length] ?? 0);
  if (length < 1 || shares.some((s) => s.length !== length + 1) || new Set(xs).size !== xs.length || xs.includes(0))
    throw new CloisterError('RECOVERY_SHARE_INVALID', 'the recovery shares differ in length or repeat a coordinate');
  const secret = new Uint8Array(length);
  for (let byte = 0; byte < length; byte++) {
    let value = 0;
    shares.forEach((share, i) => {
      let basis = 1;
      xs.forEach((xj, j) => {
        if (j !== i) basis = multiply(basis, multiply(xj, inverse(xj ^ (xs[i] ?? 0))));
      });
      value ^= multiply(share[byte] ?? 0, basis);
    });
    secret[byte] = value;
  }
  return secret;
}
